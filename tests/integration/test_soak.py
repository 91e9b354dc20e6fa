"""Soak: built-in, exec (both io modes) and wait-mode services under mixed
connection churn, while the configuration is reloaded every second and
children are killed at random. Bounded (SB_SOAK_SECONDS, default 45 s of
load). At the end the server must be back where it started: no extra fds,
no children, no connections, bounded memory; and every client was either
served or refused cleanly, none left hanging past its timeout."""
import os
import random
import signal
import socket
import threading
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, control_socket_path, ctl_json

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
SECONDS = float(os.environ.get("SB_SOAK_SECONDS", "45"))
CLIENT_TIMEOUT = 10.0   # a client waiting longer than this for its answer is a hang
# Memory growth allowed after the warm-up, for allocator slack (more under
# AddressSanitizer, whose allocator keeps more of what was freed).
RSS_BOUND_KIB = (64 if harness.sanitized() else 16) * 1024
FD_SLACK = 2            # e.g. a log file descriptor reopened; never one per connection


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(entry))
    return kids


class SoakTest(unittest.TestCase):
    def setUp(self):
        self.ports = {name: harness.free_port() for name in ("echo", "daytime", "splice", "socket", "wait", "extra")}
        self.sock = control_socket_path()
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.__exit__()

    def config(self, generation):
        p = self.ports
        services = {
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{p['echo']}", f"udp://127.0.0.1:{p['echo']}"]),
            "daytime": builtin_service("daytime", [f"tcp://127.0.0.1:{p['daytime']}"]),
            "splice": {"listen": f"tcp://127.0.0.1:{p['splice']}",
                       "exec": {"argv": ["/bin/cat"], "io": "splice", "grace": "1s"}},
            "socket": {"listen": f"tcp://127.0.0.1:{p['socket']}",
                       "exec": {"argv": ["/bin/cat"], "io": "socket", "grace": "1s"}},
            "wait": {"listen": f"tcp://127.0.0.1:{p['wait']}",
                     "exec": {"argv": [os.path.join(PROGRAMS, "inetd_wait.py")], "wait": True, "grace": "1s"}},
        }
        # Every other generation adds a service, changes one and moves a limit,
        # so reloads add, change, remove and keep listeners.
        if generation % 2 == 1:
            services["extra"] = builtin_service("echo", [f"tcp://127.0.0.1:{p['extra']}"])
            services["splice"]["max_connections"] = 32
            services["daytime"]["banner"] = f"gen {generation}\r\n"
        cfg = base_config(services, drain_grace="1s", shutdown_grace="2s")
        cfg["control"] = {"socket": self.sock}
        cfg["log"] = {"level": "warning"}
        return cfg

    def status(self):
        code, j = ctl_json(self.sock, "status")
        self.assertEqual(code, 0, j)
        return j

    def wait_quiet(self, timeout=20):
        """Until no connection and no child is left (or the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st["connections"] == 0 and st["children"] == 0 and not children_of(self.server.pid):
                return st
            time.sleep(0.1)
        return self.status()

    # ---- one client ----------------------------------------------------------

    def one_client(self, rng, outcome):
        kind = rng.choice(["echo", "daytime", "splice", "socket", "wait", "udp", "extra"])
        port = self.ports["echo" if kind == "udp" else kind]
        payload = b"soak %d\n" % rng.randrange(1 << 30)
        if kind == "udp":
            answer = harness.udp_request(("127.0.0.1", port), payload, timeout=1)
            outcome["served" if answer == payload else "udp_lost"] += 1
            return
        started = time.monotonic()
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
        except (ConnectionRefusedError, ConnectionResetError):
            outcome["refused"] += 1  # extra is not bound in this generation, or a drain
            return
        except socket.timeout:
            outcome["hung"].append(f"{kind}: connect took over {CLIENT_TIMEOUT}s")
            return
        try:
            s.settimeout(CLIENT_TIMEOUT)
            if kind in ("echo", "extra", "splice", "socket"):
                s.sendall(payload)
                if kind in ("splice", "socket") and rng.random() < 0.5:
                    s.shutdown(socket.SHUT_WR)  # half-close: the answer must still come
                got = harness.recv_exactly(s, len(payload), timeout=CLIENT_TIMEOUT)
                ok = got == payload
            elif kind == "daytime":
                got = harness.recv_until_eof(s, timeout=CLIENT_TIMEOUT, limit=4096)
                ok = got.endswith(b"\r\n") and len(got) >= 26
            else:  # wait
                got = harness.recv_until_eof(s, timeout=CLIENT_TIMEOUT, limit=4096)
                ok = got.startswith(b"wait-child pid=")
            if ok:
                outcome["served"] += 1
            else:
                # A killed child or a drained service closes early: clean, if quick.
                outcome["closed_early"] += 1
        except (ConnectionResetError, BrokenPipeError):
            outcome["closed_early"] += 1
        except socket.timeout:
            outcome["hung"].append(f"{kind}: no answer within {CLIENT_TIMEOUT}s "
                                   f"(after {time.monotonic() - started:.1f}s)")
        finally:
            s.close()

    def test_churn_reloads_and_killed_children_leave_nothing_behind(self):
        generation = 0
        self.server = Server(self.config(generation), env=harness.without_asan_quarantine()).start(wait_ready=False)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.status()
                break
            except (AssertionError, ValueError):
                self.assertIsNone(self.server.proc.poll(), self.server.log_text())
                self.assertLess(time.monotonic(), deadline, self.server.log_text())
                time.sleep(0.05)
        pid = self.server.pid

        # Warm up: every path once, so lazily made buffers and pools exist.
        warm = {"served": 0, "refused": 0, "closed_early": 0, "udp_lost": 0, "hung": []}
        rng = random.Random(1)
        for _ in range(40):
            self.one_client(rng, warm)
        self.assertEqual(warm["hung"], [])
        base = self.wait_quiet()
        base_fds = harness.fd_count(pid)
        base_rss = harness.rss_kib(pid)

        stop_at = time.monotonic() + SECONDS
        outcome = {"served": 0, "refused": 0, "closed_early": 0, "udp_lost": 0, "hung": []}
        lock = threading.Lock()

        def client_loop(seed):
            local = {"served": 0, "refused": 0, "closed_early": 0, "udp_lost": 0, "hung": []}
            r = random.Random(seed)
            while time.monotonic() < stop_at:
                self.one_client(r, local)
            with lock:
                for k, v in local.items():
                    outcome[k] = outcome[k] + v

        kills = 0

        def killer():
            nonlocal kills
            r = random.Random(7)
            while time.monotonic() < stop_at:
                time.sleep(r.uniform(0.1, 0.4))
                kids = children_of(pid)
                if kids:
                    try:
                        os.kill(r.choice(kids), signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(6)]
        threads.append(threading.Thread(target=killer))
        for t in threads:
            t.start()
        reloads = 0
        while time.monotonic() < stop_at:
            time.sleep(1.0)
            generation += 1
            self.server.write_config(self.config(generation))
            self.server.send_signal(signal.SIGHUP)
            reloads += 1
        for t in threads:
            t.join(CLIENT_TIMEOUT + 30)
            self.assertFalse(t.is_alive(), "a client thread did not finish")

        # Settle on one configuration and let everything finish.
        generation += 1 if generation % 2 == 1 else 0
        self.server.write_config(self.config(generation))
        self.server.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        end = self.wait_quiet()
        summary = (f"served={outcome['served']} refused={outcome['refused']} closed_early={outcome['closed_early']} "
                   f"udp_lost={outcome['udp_lost']} reloads={reloads} kills={kills}")
        print(summary, flush=True)

        self.assertEqual(outcome["hung"], [], summary)
        self.assertGreater(outcome["served"], 200, summary)
        self.assertGreater(kills, 10, summary)
        self.assertEqual(end["connections"], 0, summary)
        self.assertEqual(end["children"], 0, summary)
        self.assertEqual(children_of(pid), [], "children left behind")
        self.assertLessEqual(harness.fd_count(pid), base_fds + FD_SLACK,
                             f"fds grew from {base_fds}: {sorted(os.listdir(f'/proc/{pid}/fd'))}")
        self.assertLessEqual(harness.rss_kib(pid) - base_rss, RSS_BOUND_KIB, summary)
        self.assertEqual(end["reloads"]["failed"], 0, self.server.log_text()[-3000:])
        self.assertGreaterEqual(end["reloads"]["succeeded"] - base["reloads"]["succeeded"], reloads // 2, summary)

        # Everything still answers, and the server stops cleanly.
        self.assertTrue(harness.echo_answers(("127.0.0.1", self.ports["echo"])))
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    harness.main()
