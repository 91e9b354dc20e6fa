"""exec with "wait": true — one child owns the listening socket: inetd
style at fd 0, systemd style at fd 3 with LISTEN_FDS/LISTEN_PID/
LISTEN_FDNAMES; TCP, UDP (a real tftp server and client) and UNIX; a child
that keeps failing, or leaves its work waiting, is restarted with growing
backoff, without spinning meanwhile; a child that owns the socket during a
reload or shutdown gets the grace a connection gets; a child inherits
nothing but its socket, stdio and stderr pipe."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, connect, recv_exactly, recv_until_eof

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


def prog(name):
    return os.path.join(PROGRAMS, name)


class WaitTests(unittest.TestCase):
    def test_inetd_wait_tcp_serves_one_connection_per_child(self):
        port = harness.free_port()
        cfg = base_config({"w": {"listen": [f"tcp://127.0.0.1:{port}"],
                                 "exec": {"argv": [prog("inetd_wait.py")], "wait": True}}})
        with Server(cfg) as server:
            server.start()
            pids = []
            for _ in range(3):
                with connect(("127.0.0.1", port)) as s:
                    m = re.match(rb"wait-child pid=(\d+)", recv_until_eof(s))
                    self.assertIsNotNone(m)
                    pids.append(m.group(1))
            self.assertEqual(len(set(pids)), 3, "each connection should have been served by a new child")
            self.assertEqual(server.stop(), 0)

    def test_systemd_socket_activation_tcp_and_unix(self):
        port = harness.free_port()
        path = os.path.join(tempfile.mkdtemp(prefix="sb-wait-"), "act.sock")
        cfg = base_config({
            "act": {"listen": [f"tcp://127.0.0.1:{port}"],
                    "exec": {"argv": [prog("socket_activated.py")], "wait": True, "fds": "systemd"}},
            "act-unix": {"listen": [f"unix:{path}"],
                         "exec": {"argv": [prog("socket_activated.py")], "wait": True, "fds": "systemd"}},
        })
        with Server(cfg) as server:
            server.start()
            for addr, name in ((("127.0.0.1", port), "act"), (path, "act-unix")):
                with connect(addr) as s:
                    s.sendall(b"first\n")
                    first = recv_until_eof(s)
                self.assertRegex(first, rb"^activated pid=\d+ names=" + name.encode() + rb" got=first")
                with connect(addr) as s:
                    s.sendall(b"quit\n")
                    second = recv_until_eof(s)
                # The same daemon served both: it owns the socket while it lives.
                self.assertEqual(first.split()[1], second.split()[1])
            self.assertEqual(server.stop(), 0)

    @unittest.skipUnless(os.path.exists("/usr/sbin/in.tftpd") and shutil.which("tftp"), "tftpd-hpa/tftp-hpa missing")
    def test_tftp_over_udp_wait(self):
        root = tempfile.mkdtemp(prefix="sb-tftp-")
        payload = os.urandom(200000)
        with open(os.path.join(root, "boot.img"), "wb") as f:
            f.write(payload)
        port = harness.free_port()
        cfg = base_config({"tftp": {"listen": [f"udp://127.0.0.1:{port}"],
                                    "exec": {"argv": ["/usr/sbin/in.tftpd", "-s", root, "-u", "root"],
                                             "wait": True}}})
        out = os.path.join(tempfile.mkdtemp(prefix="sb-tftp-out-"), "got.img")
        with Server(cfg) as server:
            server.start()
            for _ in range(2):  # the second fetch needs the listener watched again
                if os.path.exists(out):
                    os.unlink(out)
                r = subprocess.run(["tftp", "127.0.0.1", str(port), "-m", "binary", "-c", "get", "boot.img", out],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), payload)
            self.assertEqual(server.stop(), 0)

    def test_udp_wait_admission_is_judged_per_datagram(self):
        # A refused source never starts a child; an allowed one does.
        port = harness.free_port()
        cfg = base_config({"uw": {"listen": [f"udp://127.0.0.1:{port}"],
                                  "exec": {"argv": [prog("udp_wait.py")], "wait": True},
                                  "deny": ["127.0.0.2"]}})
        with Server(cfg) as server:
            server.start()
            addr = ("127.0.0.1", port)
            self.assertIsNone(harness.udp_request(addr, b"no", timeout=0.7, source=("127.0.0.2", 0)))
            server.wait_for(r"\breject\b.*service=uw.*peer=127\.0\.0\.2:\d+.*reason=denied")
            reply = harness.udp_request(addr, b"yes", timeout=5, source=("127.0.0.3", 0))
            self.assertRegex(reply or b"", rb"^pid=\d+ got=yes$")
            self.assertNotIn(b"got=no", reply)
            self.assertEqual(server.stop(), 0)

    def test_failing_child_is_restarted_with_growing_backoff(self):
        port = harness.free_port()
        cfg = base_config({"flaky": {"listen": [f"tcp://127.0.0.1:{port}"],
                                     "exec": {"argv": [prog("quick_exit.sh")], "wait": True}}})
        with Server(cfg) as server:
            server.start()
            s = connect(("127.0.0.1", port))  # stays in the backlog; each child dies without accepting
            delays = []
            mark = 0
            for _ in range(3):
                line = server.wait_for(r"backoff.*service=flaky", start=mark, timeout=15)
                mark = server.lines.index(line) + 1
                delays.append(float(re.search(r"delay=([\d.]+)", line).group(1)))
            s.close()
            self.assertTrue(delays[0] < delays[1] < delays[2], delays)
            self.assertEqual(server.stop(), 0)


class WaitLifecycleTests(unittest.TestCase):
    """Backoff that really stops watching, reloads and shutdown while a
    wait-mode child owns the socket, and what the child inherits."""

    def setUp(self):
        self.server = None

    def tearDown(self):
        if self.server is not None:
            self.server.__exit__()

    def start(self, cfg):
        self.server = Server(cfg).start()
        return self.server

    def count(self, pattern, start=0):
        rx = re.compile(pattern)
        with self.server.cond:
            return sum(1 for line in self.server.lines[start:] if rx.search(line))

    def backoff_delays(self, service, n, start=0, timeout=15):
        delays = []
        for _ in range(n):
            line = self.server.wait_for(rf"backoff.*service={service}(\s|$)", start=start, timeout=timeout)
            start = self.server.lines.index(line, start) + 1
            delays.append(float(re.search(r"delay=([\d.]+)", line).group(1)))
        return delays

    def test_spawn_failure_backs_off_without_spinning(self):
        # The program passes `check` at start, then disappears: every spawn
        # fails, and the listener must stay unwatched through each backoff.
        program = os.path.join(tempfile.mkdtemp(prefix="sb-gone-"), "quick_exit.sh")
        shutil.copy(prog("quick_exit.sh"), program)
        port = harness.free_port()
        server = self.start(base_config({"gone": {"listen": [f"tcp://127.0.0.1:{port}"],
                                                  "exec": {"argv": [program], "wait": True}}}))
        os.unlink(program)
        s = connect(("127.0.0.1", port))  # never accepted: stays in the backlog
        server.wait_for(r"spawn-failed.*service=gone.*No such file")
        delays = self.backoff_delays("gone", 2)
        self.assertLess(delays[0], delays[1])
        cpu0, t0 = harness.cpu_seconds(server.pid), time.monotonic()
        time.sleep(2)
        used = harness.cpu_seconds(server.pid) - cpu0
        self.assertLess(used, 0.2, f"{used:.2f}s of CPU in {time.monotonic() - t0:.1f}s of backoff")
        self.assertGreaterEqual(len(self.backoff_delays("gone", 3)), 3)
        s.close()
        self.assertEqual(server.stop(), 0)

    def test_successful_exit_that_leaves_its_datagram_unread_backs_off(self):
        # /bin/true exits 0 at once, never reading the datagram that woke it.
        port = harness.free_port()
        server = self.start(base_config({
            "lazy-udp": {"listen": [f"udp://127.0.0.1:{port}"], "exec": {"argv": ["/bin/true"], "wait": True}},
        }))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"never read", ("127.0.0.1", port))
            delays = self.backoff_delays("lazy-udp", 3, timeout=10)
            self.assertTrue(delays[0] < delays[1] < delays[2], delays)
            # Within two seconds of backoff: a handful of children, not a tight loop.
            mark = server.log_mark()
            time.sleep(2)
            self.assertLess(self.count(r"child-exit.*service=lazy-udp\s", mark), 8)
        self.assertEqual(server.stop(), 0)

    def test_back_to_back_clients_of_a_one_per_child_service_are_not_backed_off(self):
        # Each child serves one connection and exits 0 while the next
        # client already waits: healthy, whatever waits on the socket.
        port = harness.free_port()
        server = self.start(base_config({
            "w": {"listen": [f"tcp://127.0.0.1:{port}"], "exec": {"argv": [prog("inetd_wait.py")], "wait": True}},
        }))
        socks = [connect(("127.0.0.1", port)) for _ in range(6)]
        pids = set()
        for s in socks:
            m = re.match(rb"wait-child pid=(\d+)", recv_until_eof(s))
            self.assertIsNotNone(m)
            pids.add(m.group(1))
            s.close()
        self.assertEqual(len(pids), 6)
        self.assertEqual(self.count(r"\bbackoff\b"), 0, server.log_text())
        self.assertEqual(server.stop(), 0)

    def test_quick_child_that_took_its_work_is_not_backed_off(self):
        port = harness.free_port()
        server = self.start(base_config({
            "w": {"listen": [f"tcp://127.0.0.1:{port}"],
                  "exec": {"argv": [prog("inetd_wait.py")], "wait": True}},
            "uw": {"listen": [f"udp://127.0.0.1:{port}"], "exec": {"argv": [prog("udp_wait.py")], "wait": True}},
        }))
        for i in range(3):
            mark = server.log_mark()
            with connect(("127.0.0.1", port)) as s:
                self.assertRegex(recv_until_eof(s), rb"^wait-child pid=\d+")
            reply = harness.udp_request(("127.0.0.1", port), b"n%d" % i, timeout=5)
            self.assertRegex(reply or b"", rb"^pid=\d+ got=n%d$" % i)
            # Each run ended (quickly, and with nothing left waiting) before the next client.
            server.wait_for(r"child-exit.*service=w\b.*exit 0", start=mark)
            server.wait_for(r"child-exit.*service=uw\b.*exit 0", start=mark)
        self.assertEqual(self.count(r"\bbackoff\b"), 0, server.log_text())
        self.assertEqual(server.stop(), 0)

    def control_config(self, services, **extra):
        cfg = base_config(services, **extra)
        cfg["control"] = {"socket": self.sock}
        return cfg

    def test_reload_to_non_wait_waits_for_the_child_and_stays_responsive(self):
        self.sock = harness.control_socket_path()
        port = harness.free_port()
        slow = {"listen": [f"tcp://127.0.0.1:{port}"],
                "exec": {"argv": [prog("slow_wait.py"), "2", "0"], "wait": True}}
        server = self.start(self.control_config({"svc": slow}))
        first = connect(("127.0.0.1", port))
        server.wait_for(r"stderr.*service=svc.*waiting")
        # The same address becomes a built-in while the child still sleeps,
        # its socket blocking and a connection waiting on it.
        server.write_config(self.control_config({"svc": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])}))
        code, j = harness.ctl_json(self.sock, "reload", timeout=5)
        self.assertEqual((code, j.get("changed")), (0, ["svc"]))
        t0 = time.monotonic()
        r = harness.ctl(self.sock, "status", timeout=5)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertLess(time.monotonic() - t0, 1.5)
        self.assertIsNone(server.proc.poll())
        # The old child was left to take its connection...
        self.assertRegex(recv_until_eof(first), rb"^accepted pid=\d+\ndone\n$")
        first.close()
        server.wait_for(r"child-exit.*service=svc.*exit 0")
        # ...and after it the new definition serves.
        self.assertTrue(harness.echo_answers(("127.0.0.1", port), timeout=5))
        self.assertTrue(harness.echo_answers(("127.0.0.1", port), timeout=5))
        self.assertEqual(server.stop(), 0)

    def test_removed_service_child_finishes_within_drain_grace(self):
        self.sock = harness.control_socket_path()
        port, other = harness.free_port(), harness.free_port()
        keep = builtin_service("echo", [f"tcp://127.0.0.1:{other}"])
        slow = {"listen": [f"tcp://127.0.0.1:{port}"],
                "exec": {"argv": [prog("slow_wait.py"), "0", "1"], "wait": True}}
        server = self.start(self.control_config({"keep": keep, "slow": slow}, drain_grace="5s"))
        s = connect(("127.0.0.1", port))
        self.assertRegex(s.recv(100), rb"^accepted pid=\d+\n")
        server.write_config(self.control_config({"keep": keep}, drain_grace="5s"))
        code, j = harness.ctl_json(self.sock, "reload", timeout=5)
        self.assertEqual((code, j.get("removed")), (0, ["slow"]))
        self.assertEqual(recv_until_eof(s), b"done\n")
        s.close()
        line = server.wait_for(r"child-exit.*service=slow\b", timeout=5)
        self.assertIn('status="exit 0"', line)
        self.assertTrue(harness.echo_answers(("127.0.0.1", other)))
        self.assertEqual(server.stop(), 0)

    def test_removed_service_child_is_stopped_after_drain_grace(self):
        port = harness.free_port()
        keep = builtin_service("echo", [f"tcp://127.0.0.1:{harness.free_port()}"])
        slow = {"listen": [f"tcp://127.0.0.1:{port}"],
                "exec": {"argv": [prog("slow_wait.py"), "0", "30"], "wait": True}}
        server = self.start(base_config({"keep": keep, "slow": slow}, drain_grace="1s"))
        s = connect(("127.0.0.1", port))
        self.assertRegex(s.recv(100), rb"^accepted pid=\d+\n")
        server.write_config(base_config({"keep": keep}, drain_grace="1s"))
        server.send_signal(signal.SIGHUP)
        line = server.wait_for(r"child-exit.*service=slow\b", timeout=10)
        self.assertIn('status="signal SIGTERM"', line)
        duration = float(re.search(r"duration=([\d.]+)", line).group(1))
        self.assertTrue(0.8 < duration < 4, line)
        s.close()
        self.assertEqual(server.stop(), 0)

    def test_shutdown_lets_the_child_finish_within_the_grace(self):
        port = harness.free_port()
        server = self.start(base_config({"slow": {"listen": [f"tcp://127.0.0.1:{port}"],
                                                  "exec": {"argv": [prog("slow_wait.py"), "0", "1"],
                                                           "wait": True}}}, shutdown_grace="20s"))
        s = connect(("127.0.0.1", port))
        self.assertRegex(s.recv(100), rb"^accepted pid=\d+\n")
        t0 = time.monotonic()
        server.send_signal(signal.SIGTERM)
        self.assertEqual(recv_until_eof(s), b"done\n")
        s.close()
        self.assertEqual(server.wait_exit(10), 0)
        self.assertLess(time.monotonic() - t0, 8)
        self.assertRegex(server.log_text(), r'child-exit.*service=slow.*status="exit 0"')

    def test_shutdown_stops_the_child_after_the_grace_or_a_second_signal(self):
        for grace, second in (("1s", False), ("60s", True)):
            port = harness.free_port()
            server = self.start(base_config({"slow": {"listen": [f"tcp://127.0.0.1:{port}"],
                                                      "exec": {"argv": [prog("slow_wait.py"), "0", "30"],
                                                               "wait": True}}}, shutdown_grace=grace))
            with connect(("127.0.0.1", port)) as s:
                self.assertRegex(s.recv(100), rb"^accepted pid=\d+\n")
                t0 = time.monotonic()
                server.send_signal(signal.SIGTERM)
                server.wait_for(r"\bshutdown\b")
                if second:
                    time.sleep(0.3)
                    self.assertIsNone(server.proc.poll(), "the first signal waits for the child")
                    server.send_signal(signal.SIGTERM)
                self.assertEqual(server.wait_exit(10), 0)
                self.assertLess(time.monotonic() - t0, 5, grace)
            self.assertRegex(server.log_text(), r'child-exit.*service=slow.*status="signal SIGTERM"')
            server.__exit__()

    def test_nothing_the_server_holds_leaks_into_a_wait_child(self):
        self.sock = harness.control_socket_path()
        inetd, systemd, other = harness.free_port(), harness.free_port(), harness.free_port()
        path = os.path.join(tempfile.mkdtemp(prefix="sb-wait-"), "fds.sock")
        server = self.start(self.control_config({
            "fds-inetd": {"listen": [f"tcp://127.0.0.1:{inetd}"],
                          "exec": {"argv": [prog("wait_list_fds.py")], "wait": True}},
            "fds-systemd": {"listen": [f"tcp://127.0.0.1:{systemd}"],
                            "exec": {"argv": [prog("wait_list_fds.py")], "wait": True, "fds": "systemd"}},
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{other}", f"udp://127.0.0.1:{other}",
                                             f"unix:{path}"]),
        }))
        # Give the server more to leak: an open client connection of its own.
        held = connect(("127.0.0.1", other))
        held.sendall(b"x")
        self.assertEqual(recv_exactly(held, 1), b"x")
        for port, expected in ((inetd, {0, 1, 2}), (systemd, {0, 1, 2, 3})):
            for _ in range(2):  # the second child starts after a hand-back
                with connect(("127.0.0.1", port)) as s:
                    lines = recv_until_eof(s).decode().splitlines()
                fds = dict(line.split(" ", 1) for line in lines)
                self.assertEqual(set(int(fd) for fd in fds), expected, fds)
                listening = "0" if expected == {0, 1, 2} else "3"
                self.assertTrue(fds[listening].startswith("socket:"), fds)
                self.assertTrue(fds["2"].startswith("pipe:"), fds)  # stderr goes to the log
        held.close()
        self.assertEqual(server.stop(), 0)


class RsyncTests(unittest.TestCase):
    @unittest.skipUnless(shutil.which("rsync"), "rsync missing")
    def test_rsync_daemon_over_socket_mode(self):
        root = tempfile.mkdtemp(prefix="sb-rsync-")
        os.makedirs(os.path.join(root, "pub"))
        with open(os.path.join(root, "pub", "hello.txt"), "w") as f:
            f.write("hi\n")
        conf = os.path.join(root, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write(f"use chroot = no\n[pub]\n  path = {root}/pub\n  comment = public files\n  read only = yes\n")
        port = harness.free_port()
        cfg = base_config({"rsync": {"listen": [f"tcp://127.0.0.1:{port}"],
                                     "exec": {"argv": [shutil.which("rsync"), "--daemon", f"--config={conf}"],
                                              "io": "socket"}}})
        with Server(cfg) as server:
            server.start()
            r = subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"pub\s+public files")
            r = subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/pub/"], capture_output=True, text=True,
                               timeout=30)
            self.assertIn("hello.txt", r.stdout)
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
