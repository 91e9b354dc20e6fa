"""Live reconfiguration seen from clients: no connection refused while the
server reloads again and again, removed services drain then close, changed
services apply to new connections only."""
import json
import signal
import sys
import threading
import time
import unittest

import harness
from harness import (Server, base_config, builtin_service, connect, control_socket_path, ctl, ctl_json,
                     recv_exactly, recv_until_eof)


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

    def config(self, with_extra, greeting="v1\r\n", greet_extra=None):
        services = {
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.echo_port}"]),
            "greet": builtin_service("echo", [f"tcp://127.0.0.1:{self.greet_port}"], banner=greeting,
                                     **(greet_extra or {})),
        }
        if with_extra:
            services["extra"] = builtin_service("echo", [f"tcp://127.0.0.1:{self.extra_port}"])
        cfg = base_config(services, drain_grace="1s")
        cfg["control"] = {"socket": self.sock}
        cfg["log"] = {"level": "warning"}  # thousands of connections: keep the log short
        return cfg

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


if __name__ == "__main__":
    harness.main()
