"""Live reconfiguration seen from clients: no connection refused while the
server reloads again and again, removed services drain then close (their
children too), changed services apply to new connections only, a reload
that cannot be carried out whole changes nothing, and the loop keeps
serving while a slow reload reads its files."""
import json
import os
import re
import shutil
import signal
import socket
import sys
import threading
import time
import unittest

import harness
from harness import (Server, base_config, builtin_service, connect, control_socket_path, ctl, ctl_json,
                     echo_answers, recv_exactly, recv_until_eof)


class ReloadTests(unittest.TestCase):
    def setUp(self):
        self.echo_port = harness.free_port()
        self.extra_port = harness.free_port()
        self.greet_port = harness.free_port()
        self.sock = control_socket_path()
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.__exit__()

    def start(self, cfg):
        """Starts the server and waits until its control socket answers (the
        log is at "warning", so there is no "ready" line to wait for)."""
        self.server = Server(cfg).start(wait_ready=False)
        deadline = time.monotonic() + 10
        while ctl(self.sock, "status").returncode != 0:
            self.assertIsNone(self.server.proc.poll(), self.server.log_text())
            self.assertLess(time.monotonic(), deadline, self.server.log_text())
            time.sleep(0.05)

    def config(self, with_extra, greeting="v1\r\n", greet_extra=None, log_level="warning"):
        services = {
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.echo_port}"]),
            "greet": builtin_service("echo", [f"tcp://127.0.0.1:{self.greet_port}"], banner=greeting,
                                     **(greet_extra or {})),
        }
        if with_extra:
            services["extra"] = builtin_service("echo", [f"tcp://127.0.0.1:{self.extra_port}"])
        cfg = base_config(services, drain_grace="1s")
        cfg["control"] = {"socket": self.sock}
        cfg["log"] = {"level": log_level}  # thousands of connections: keep the log short
        return cfg

    def status(self):
        code, j = ctl_json(self.sock, "status")
        self.assertEqual(code, 0, j)
        return j

    def assert_unchanged(self, generation=1):
        """The first configuration still runs: echo answers, greet says v1,
        extra is not bound."""
        self.assertTrue(echo_answers(("127.0.0.1", self.echo_port)))
        g = connect(("127.0.0.1", self.greet_port))
        self.assertEqual(recv_exactly(g, 4), b"v1\r\n")
        g.close()
        with self.assertRaises(OSError):
            connect(("127.0.0.1", self.extra_port), timeout=1)
        self.assertEqual(self.status()["generation"], generation)
        code, j = ctl_json(self.sock, "services")
        self.assertEqual(sorted(x["name"] for x in j["services"]), ["echo", "greet"])

    def test_no_connection_fails_during_50_reloads(self):
        a = self.config(with_extra=True, greeting="a\r\n")
        b = self.config(with_extra=False, greeting="b\r\n")
        self.start(a)

        stop = threading.Event()
        results = {"ok": 0, "failed": []}
        lock = threading.Lock()

        def client():
            ok, failed = 0, []
            payload = b"ping"
            while not stop.is_set():
                try:
                    s = connect(("127.0.0.1", self.echo_port), timeout=5)
                    try:
                        s.sendall(payload)
                        if recv_exactly(s, len(payload), timeout=5) != payload:
                            failed.append("short echo")
                        else:
                            ok += 1
                    finally:
                        s.close()
                except OSError as e:
                    failed.append(repr(e))
            with lock:
                results["ok"] += ok
                results["failed"] += failed

        threads = [threading.Thread(target=client) for _ in range(2)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        try:
            for i in range(50):
                self.server.write_config(b if i % 2 == 0 else a)
                if i % 2 == 0:
                    self.server.proc.send_signal(signal.SIGHUP)
                    # The log is at "warning", so no "reloaded" line: ask the control socket.
                    deadline = time.monotonic() + 5
                    while ctl_json(self.sock, "status")[1]["generation"] != i + 2:
                        self.assertLess(time.monotonic(), deadline, self.server.log_text()[-3000:])
                        time.sleep(0.005)
                else:
                    code, j = ctl_json(self.sock, "reload")
                    self.assertEqual(code, 0, j)
                    self.assertEqual(j["generation"], i + 2)
                time.sleep(0.08)
            while time.monotonic() - t0 < 5:
                time.sleep(0.05)
        finally:
            stop.set()
            for t in threads:
                t.join(20)
        code, j = ctl_json(self.sock, "status")
        self.assertEqual(j["generation"], 51)
        self.assertEqual(j["reloads"]["succeeded"], 50)
        self.assertEqual(results["failed"], [], "%d failures of %d" % (len(results["failed"]),
                                                                       results["ok"] + len(results["failed"])))
        print("\n  %d connections during 50 reloads, none failed" % results["ok"], file=sys.stderr)
        self.assertGreater(results["ok"], 1000)
        code, j = ctl_json(self.sock, "services")
        echo = [s for s in j["services"] if s["name"] == "echo"][0]
        self.assertGreaterEqual(echo["accepted"], results["ok"])
        self.assertEqual(sum(echo["rejected_by"].values()), 0)
        self.assertEqual(self.server.stop(), 0)

    def test_a_removed_service_drains_for_the_grace_then_closes(self):
        self.start(self.config(with_extra=True))
        s = connect(("127.0.0.1", self.extra_port))
        s.sendall(b"before")
        self.assertEqual(recv_exactly(s, 6), b"before")
        self.server.write_config(self.config(with_extra=False))
        t0 = time.monotonic()
        code, j = ctl_json(self.sock, "reload")
        self.assertEqual((code, j["removed"]), (0, ["extra"]))
        # Still served during the grace, and listed as draining...
        s.sendall(b"during")
        self.assertEqual(recv_exactly(s, 6), b"during")
        code, j = ctl_json(self.sock, "services")
        extra = [x for x in j["services"] if x["name"] == "extra"]
        self.assertEqual(len(extra), 1)
        self.assertEqual((extra[0]["state"], extra[0]["active"]), ("draining", 1))
        # ...but nobody new gets in.
        with self.assertRaises(OSError):
            connect(("127.0.0.1", self.extra_port), timeout=1)
        # Closed once the grace (1s) is over.
        self.assertEqual(recv_until_eof(s, timeout=10), b"")
        elapsed = time.monotonic() - t0
        self.assertGreater(elapsed, 0.8)
        self.assertLess(elapsed, 5)
        s.close()
        code, j = ctl_json(self.sock, "services")
        self.assertNotIn("extra", [x["name"] for x in j["services"]])
        self.assertEqual(self.server.stop(), 0)

    def test_a_changed_service_applies_to_new_connections_only(self):
        self.start(self.config(with_extra=False, greeting="v1\r\n"))
        old = connect(("127.0.0.1", self.greet_port))
        self.assertEqual(recv_exactly(old, 4), b"v1\r\n")
        # v2: another banner, and an idle timeout the old connection never had.
        self.server.write_config(self.config(with_extra=False, greeting="v2\r\n",
                                             greet_extra={"timeouts": {"idle": "500ms"}}))
        code, j = ctl_json(self.sock, "reload")
        self.assertEqual((code, j["changed"]), (0, ["greet"]))
        new = connect(("127.0.0.1", self.greet_port))
        self.assertEqual(recv_exactly(new, 4), b"v2\r\n")
        t0 = time.monotonic()
        self.assertEqual(recv_until_eof(new, timeout=5), b"")  # v2's idle timeout
        self.assertLess(time.monotonic() - t0, 3)
        new.close()
        # The old connection keeps v1's definition: idle longer than v2 allows, still served.
        time.sleep(0.5)
        old.sendall(b"still")
        self.assertEqual(recv_exactly(old, 5), b"still")
        old.close()
        self.assertEqual(self.server.stop(), 0)

    def test_an_address_in_use_fails_the_whole_reload(self):
        self.start(self.config(with_extra=False))
        taken_port = harness.free_port(udp_too=False)
        taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # another process's listener, as far as we know
        taken.bind(("127.0.0.1", taken_port))
        taken.listen(1)
        try:
            # Three changes, one impossible: none of them may happen.
            cfg = self.config(with_extra=True, greeting="v2\r\n")
            cfg["services"]["taken"] = builtin_service("echo", [f"tcp://127.0.0.1:{taken_port}"])
            self.server.write_config(cfg)
            r = ctl(self.sock, "reload")
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("reload failed with 1 error; the running configuration is unchanged", r.stderr)
            self.assertRegex(r.stderr, r"service taken: cannot bind tcp://127\.0\.0\.1:%d: Address already in use"
                             % taken_port)
            self.assert_unchanged()
            self.assertEqual(self.status()["reloads"]["failed"], 1)
        finally:
            taken.close()
        self.assertEqual(self.server.stop(), 0)

    def test_a_log_file_that_cannot_be_opened_fails_the_reload(self):
        self.start(self.config(with_extra=False))
        cfg = self.config(with_extra=True, greeting="v2\r\n")
        cfg["log"]["file"] = os.path.join(self.server.dir, "no", "such", "dir", "switchboard.log")
        self.server.write_config(cfg)
        r = ctl(self.sock, "reload")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("cannot open log file " + cfg["log"]["file"], r.stderr)
        self.assert_unchanged()
        self.assertEqual(self.server.stop(), 0)

    def test_every_failed_reload_is_counted_whatever_triggered_it(self):
        self.start(self.config(with_extra=False))
        self.server.write_config("{ this is not json")
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while self.status()["reloads"]["failed"] != 1:
            self.assertLess(time.monotonic(), deadline, self.server.log_text())
            time.sleep(0.02)
        self.assertEqual(ctl(self.sock, "reload").returncode, 2)
        reloads = self.status()["reloads"]
        self.assertEqual((reloads["failed"], reloads["succeeded"]), (2, 0))
        r = ctl(self.sock, "metrics")
        self.assertIn('switchboard_reloads_total{result="failed"} 2\n', r.stdout)
        self.assertIn("switchboard_last_reload_success 0\n", r.stdout)
        self.assertEqual(self.server.stop(), 0)

    def test_a_removed_exec_service_drains_its_child_then_terminates_it(self):
        cat_port = self.extra_port

        def cfg(with_cat):
            c = self.config(with_extra=False, log_level="info")
            c["drain_grace"] = "1.5s"
            if with_cat:
                c["services"]["cat"] = {"listen": [f"tcp://127.0.0.1:{cat_port}"],
                                        "exec": {"argv": ["/bin/cat"], "io": "splice"}}
            return c

        self.start(cfg(with_cat=True))
        s = connect(("127.0.0.1", cat_port))
        s.sendall(b"hello")
        self.assertEqual(recv_exactly(s, 5), b"hello")
        code, j = ctl_json(self.sock, "connections")
        cats = [c for c in j["connections"] if c["service"] == "cat"]
        self.assertEqual(len(cats), 1, j)
        pid = cats[0]["pid"]
        self.assertIsInstance(pid, int)
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            self.assertEqual(f.read().split(b"\0")[0], b"/bin/cat")

        mark = self.server.log_mark()
        self.server.write_config(cfg(with_cat=False))
        t0 = time.monotonic()
        code, j = ctl_json(self.sock, "reload")
        self.assertEqual((code, j["removed"]), (0, ["cat"]))
        # During the grace the child still answers through its connection.
        time.sleep(0.5)
        s.sendall(b"during")
        self.assertEqual(recv_exactly(s, 6), b"during")
        with self.assertRaises(OSError):
            connect(("127.0.0.1", cat_port), timeout=1)
        # Then the connection is closed and the child ends.
        self.assertEqual(recv_until_eof(s, timeout=10), b"")
        elapsed = time.monotonic() - t0
        s.close()
        self.assertGreater(elapsed, 1.3)
        self.assertLess(elapsed, 6)
        line = self.server.wait_for(r"\bconn\b.*service=cat\b.*reason=drained", start=mark)
        self.assertRegex(line, r"\bpid=%d\b" % pid)
        self.assertRegex(line, r"\bexit=-?\d+ signal=\d+")
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{pid}"):  # reaped by the server, not just signalled
            self.assertLess(time.monotonic(), deadline, f"child {pid} still exists")
            time.sleep(0.02)
        code, j = ctl_json(self.sock, "connections")
        self.assertEqual([c for c in j["connections"] if c["service"] == "cat"], [])
        self.assertEqual(self.server.stop(), 0)


class SlowReloadTests(unittest.TestCase):
    """A reload whose files take long to read (here: large included files;
    in production a slow disk or NSS): the loop keeps serving meanwhile,
    requests made during it share one more load, and SIGTERM still stops."""

    def setUp(self):
        self.echo_port = harness.free_port()
        self.late_port = harness.free_port()
        self.sock = control_socket_path()
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.__exit__()
            shutil.rmtree(os.path.join(self.server.dir, "slow.d"), ignore_errors=True)  # tens of MiB

    def config(self, late=False):
        services = {"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.echo_port}"])}
        if late:
            services["late"] = builtin_service("echo", [f"tcp://127.0.0.1:{self.late_port}"])
        cfg = base_config(services, include=["slow.d/*.json"])
        cfg["control"] = {"socket": self.sock}
        cfg["log"] = {"level": "debug"}  # "reload-loading" says when a load has begun
        return cfg

    def start(self, files=4):
        self.server = Server(self.config()).start()
        # About 15 MiB each: reading and validating them takes a good part of
        # a second, long enough that a blocked loop would show.
        os.mkdir(os.path.join(self.server.dir, "slow.d"))
        filler = "x" * (15 << 20)
        for i in range(files):
            with open(os.path.join(self.server.dir, "slow.d", f"big{i}.json"), "w") as f:
                f.write('{"$schema": "%s", "services": {}}' % filler)

    def reload_in_thread(self, results, key):
        def run():
            results[key] = ctl(self.sock, "--json", "reload", timeout=60)
        t = threading.Thread(target=run)
        t.start()
        return t

    def test_the_loop_keeps_serving_while_a_reload_loads(self):
        self.start()
        mark = self.server.log_mark()
        results = {}
        t = self.reload_in_thread(results, "reload")
        self.server.wait_for(r"\breload-loading\b", start=mark)
        worst, answered = 0.0, 0
        while t.is_alive():
            t0 = time.monotonic()
            self.assertTrue(echo_answers(("127.0.0.1", self.echo_port), timeout=5))
            self.assertEqual(ctl(self.sock, "status").returncode, 0)
            worst = max(worst, time.monotonic() - t0)
            answered += 1
        t.join()
        r = results["reload"]
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["generation"], 2)
        line = self.server.wait_for(r"\breloaded\b.*generation=2", start=mark)
        ms, load_ms, apply_ms = (float(re.search(r"\b%s=([0-9.]+)" % k, line).group(1))
                                 for k in ("ms", "load_ms", "apply_ms"))
        # The line's ms covers reading the files, not just the apply.
        self.assertAlmostEqual(ms, load_ms + apply_ms, delta=0.01)
        self.assertGreater(load_ms, 300, line)
        self.assertGreaterEqual(answered, 2)
        self.assertLess(worst, load_ms / 1000 / 2,
                        "a client waited %.0f ms during a %.0f ms load" % (worst * 1000, load_ms))
        print("\n  %d round trips during a %.0f ms load, the slowest %.0f ms"
              % (answered, load_ms, worst * 1000), file=sys.stderr)
        self.assertEqual(self.server.stop(), 0)

    def test_requests_during_a_load_share_the_next_one_and_all_get_answers(self):
        self.start(files=2)
        mark = self.server.log_mark()
        results = {}
        first = self.reload_in_thread(results, "first")
        self.server.wait_for(r"\breload-loading\b", start=mark)
        # The first load may or may not have read the main file by now; these
        # requests must be answered by a load that starts after them.
        self.server.write_config(self.config(late=True))
        later = [self.reload_in_thread(results, i) for i in range(6)]
        for t in [first] + later:
            t.join(60)
        replies = {}
        for key, r in results.items():
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            replies[key] = json.loads(r.stdout)
        self.assertEqual(len(replies), 7)
        self.assertEqual(replies["first"]["generation"], 2)
        for i in range(6):
            self.assertGreaterEqual(replies[i]["generation"], 3, replies[i])
            self.assertIn("late", replies[i]["added"] + replies[i]["kept"], replies[i])
        self.assertTrue(echo_answers(("127.0.0.1", self.late_port)))
        status = ctl_json(self.sock, "status")[1]
        self.assertLessEqual(status["generation"], 4, "seven requests, at most three loads")
        self.assertEqual(status["reloads"]["succeeded"], status["generation"] - 1)
        self.assertEqual(self.server.stop(), 0)

    def test_sigterm_during_a_load_applies_nothing_and_exits_0(self):
        self.start()
        self.server.write_config(self.config(late=True))
        mark = self.server.log_mark()
        results = {}
        t = self.reload_in_thread(results, "reload")
        self.server.wait_for(r"\breload-loading\b", start=mark)
        self.assertEqual(self.server.stop(signal.SIGTERM), 0)
        t.join(30)
        r = results["reload"]
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("the server is shutting down; the reload was not applied", r.stdout)
        log = "\n".join(self.server.lines[mark:])
        self.assertIn("reload-abandoned", log)
        self.assertNotRegex(log, r"\breloaded\b")
        self.assertFalse(os.path.exists(self.sock))


if __name__ == "__main__":
    harness.main()
