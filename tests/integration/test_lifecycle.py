"""Lifecycle: states the server must not get stuck in. A drain closes the
listening sockets at once (new clients are refused while open connections
finish; a socket passed by systemd is only left unwatched); a wait-mode
child that leaves the accept queue as it found it, or shuts its listening
socket down, is backed off or given a fresh socket instead of respawned
without end; an exec session whose child has exited while a grandchild
still holds its output ends within the grace and frees its slots."""
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, connect, ctl, ctl_json, recv_exactly, recv_until_eof

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"


def prog(name):
    return os.path.join(PROGRAMS, name)


def refused_within(addr, seconds):
    """Seconds until a connect to `addr` is refused, or None if it never was
    within `seconds` (connections that got through are closed at once)."""
    t0 = time.monotonic()
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        try:
            s = connect(addr, timeout=1)
        except (ConnectionRefusedError, ConnectionResetError, FileNotFoundError):
            # A SYN that meets the listener as it closes is answered with a
            # reset instead of a refusal: turned away at once all the same.
            return time.monotonic() - t0
        s.close()
        time.sleep(0.05)
    return None


class LifecycleBase(unittest.TestCase):
    def setUp(self):
        self.server = None
        self.tmp = tempfile.mkdtemp(prefix="sb-life-")
        self.sock = os.path.join(self.tmp, "control.sock")

    def tearDown(self):
        if self.server is not None:
            self.server.__exit__()

    def start(self, cfg, **kw):
        self.server = Server(cfg, **kw).start()
        return self.server

    def count(self, pattern, start=0):
        rx = re.compile(pattern)
        with self.server.cond:
            return sum(1 for line in self.server.lines[start:] if rx.search(line))


class DrainTests(LifecycleBase):
    def echo_config(self, **extra):
        self.port = harness.free_port()
        self.path = os.path.join(self.tmp, "echo.sock")
        return base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}", f"unix:{self.path}"])},
                           control={"socket": self.sock}, **extra)

    def check_refused_while_open_one_is_served(self, server, s):
        took = refused_within(("127.0.0.1", self.port), 3)
        self.assertIsNotNone(took, "a new TCP client was still let into the accept queue during the drain")
        print(f"\n  new TCP client refused {took * 1000:.0f} ms into the drain", file=sys.stderr)
        self.assertFalse(os.path.exists(self.path), "the UNIX socket file outlived the start of the drain")
        with self.assertRaises(OSError):
            connect(self.path, timeout=1).close()
        # The open connection is still served.
        s.sendall(b"during")
        self.assertEqual(recv_exactly(s, 6), b"during")
        self.assertIsNone(server.proc.poll())
        s.close()
        self.assertEqual(server.wait_exit(10), 0)

    def test_shutdown_grace_refuses_new_clients_at_once(self):
        server = self.start(self.echo_config(shutdown_grace="30s"))
        s = connect(("127.0.0.1", self.port))
        s.sendall(b"before")
        self.assertEqual(recv_exactly(s, 6), b"before")
        server.send_signal(signal.SIGTERM)
        server.wait_for(r"\bshutdown\b")
        self.check_refused_while_open_one_is_served(server, s)
        self.assertRegex(server.log_text(), r"listeners-closed .*closed=2")

    def test_ctl_drain_refuses_new_clients_at_once(self):
        server = self.start(self.echo_config())
        s = connect(self.path)
        s.sendall(b"before")
        self.assertEqual(recv_exactly(s, 6), b"before")
        r = ctl(self.sock, "drain")
        self.assertEqual(r.returncode, 0, r.stderr)
        took = refused_within(("127.0.0.1", self.port), 3)
        self.assertIsNotNone(took, "a new TCP client was still let into the accept queue during the drain")
        self.assertFalse(os.path.exists(self.path))
        s.sendall(b"during")
        self.assertEqual(recv_exactly(s, 6), b"during")
        code, j = ctl_json(self.sock, "status")  # the control socket stays up
        self.assertTrue(j["stopping"])
        s.close()
        self.assertEqual(server.wait_exit(10), 0)

    def test_service_removed_by_a_reload_refuses_new_clients_at_once(self):
        other = harness.free_port()
        cfg = self.echo_config(drain_grace="30s")
        server = self.start(cfg)
        s = connect(("127.0.0.1", self.port))
        s.sendall(b"before")
        self.assertEqual(recv_exactly(s, 6), b"before")
        server.write_config(base_config({"day": builtin_service("daytime", [f"tcp://127.0.0.1:{other}"])},
                                        control={"socket": self.sock}, drain_grace="30s"))
        code, j = ctl_json(self.sock, "reload")
        self.assertEqual(code, 0, j)
        self.assertIsNotNone(refused_within(("127.0.0.1", self.port), 3))
        self.assertFalse(os.path.exists(self.path))
        s.sendall(b"during")
        self.assertEqual(recv_exactly(s, 6), b"during")
        s.close()
        self.assertEqual(server.stop(), 0)

    def test_a_socket_passed_by_systemd_is_left_open_and_unwatched(self):
        port = harness.free_port()
        cfg = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])}, shutdown_grace="30s")
        server = Server(cfg, prefix=[ACTIVATE, "-l", f"127.0.0.1:{port}"])
        self.server = server
        server.start(wait_ready=False)
        server.wait_for(r"Listening on .* as 3\.")
        first = connect(("127.0.0.1", port))
        first.sendall(b"first")
        self.assertEqual(recv_exactly(first, 5), b"first")
        server.wait_for(r"\bready\b")
        server.send_signal(signal.SIGTERM)
        server.wait_for(rf"listener-not-accepting .*address=tcp://127\.0\.0\.1:{port}")
        # Not shut down: the socket still listens (for the next start), and
        # nobody accepts.
        queued = connect(("127.0.0.1", port))
        queued.sendall(b"queued")
        queued.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            queued.recv(1)
        first.sendall(b"again")
        self.assertEqual(recv_exactly(first, 5), b"again")
        first.close()
        self.assertEqual(server.wait_exit(10), 0)
        queued.close()


class WaitChildTests(LifecycleBase):
    def assert_lazy_child_backed_off(self, listen, connect_client):
        # /bin/true exits 0 at once and never accepts: the client stays in
        # the accept queue, and would wake a new child at once, forever.
        server = self.start(base_config({
            "lazy": {"listen": [listen], "exec": {"argv": ["/bin/true"], "wait": True}},
        }))
        with connect_client() as s:
            mark = server.log_mark()
            time.sleep(3)
            spawned = self.count(r"child-exit.*service=lazy\s", mark)
            print(f"\n  {spawned} children of /bin/true in 3 s with one client waiting on {listen}", file=sys.stderr)
            self.assertLess(spawned, 12, server.log_text()[-3000:])
            self.assertRegex(server.log_text(), r"backoff .*service=lazy .*reason=\"?connections left waiting")
        self.assertEqual(server.stop(), 0)

    def test_a_tcp_wait_child_that_exits_0_without_accepting_is_backed_off(self):
        port = harness.free_port()
        self.assert_lazy_child_backed_off(f"tcp://127.0.0.1:{port}", lambda: connect(("127.0.0.1", port)))

    def test_a_unix_wait_child_that_exits_0_without_accepting_is_backed_off(self):
        # The same on a UNIX socket (4,214 children in 3 s before).
        path = os.path.join(self.tmp, "lazy.sock")

        def client():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            return s
        self.assert_lazy_child_backed_off(f"unix:{path}", client)

    def shut_down_once(self, listen):
        marker = os.path.join(self.tmp, "broke")
        cfg = base_config({"breaker": {"listen": [listen], "exec": {"argv": [prog("shutdown_listener.py"), marker],
                                                                     "wait": True}}},
                          control={"socket": self.sock})
        server = self.start(cfg)
        return server, marker

    def check_served_again(self, server, addr, mark):
        # The first client meets the child that breaks the socket...
        try:
            with connect(addr, timeout=5) as s:
                recv_until_eof(s, timeout=5)
        except OSError:
            pass
        server.wait_for(r"child-exit.*service=breaker", start=mark)
        # ...and the service is back: each next client gets a child of its own.
        for _ in range(3):
            answer = b""
            for _ in range(50):
                try:
                    with connect(addr, timeout=5) as s:
                        answer = recv_until_eof(s, timeout=5)
                    break
                except OSError:
                    time.sleep(0.1)
            self.assertRegex(answer, rb"^wait-child pid=\d+", server.log_text()[-3000:])
        spawned = self.count(r"child-exit.*service=breaker", mark)
        print(f"\n  {spawned} children for 4 clients", file=sys.stderr)
        self.assertLessEqual(spawned, 6, server.log_text()[-3000:])
        self.assertRegex(server.log_text(), r"listener-not-listening")

    def test_a_wait_child_that_shuts_its_tcp_listener_down_does_not_kill_the_service(self):
        port = harness.free_port()
        server, marker = self.shut_down_once(f"tcp://127.0.0.1:{port}")
        self.check_served_again(server, ("127.0.0.1", port), server.log_mark())
        # A reload that keeps the service keeps a socket that listens.
        code, j = ctl_json(self.sock, "reload")
        self.assertEqual(code, 0, j)
        with connect(("127.0.0.1", port)) as s:
            self.assertRegex(recv_until_eof(s), rb"^wait-child pid=\d+")
        self.assertEqual(server.stop(), 0)

    def test_a_wait_child_that_shuts_its_unix_listener_down_does_not_kill_the_service(self):
        path = os.path.join(self.tmp, "breaker.sock")
        server, marker = self.shut_down_once(f"unix:{path}")
        self.check_served_again(server, path, server.log_mark())
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(path))


class ExecSessionTests(LifecycleBase):
    def test_a_grandchild_holding_stdout_keeps_the_session_for_at_most_the_grace(self):
        port = harness.free_port()
        server = self.start(base_config({"bg": {
            "listen": [f"tcp://127.0.0.1:{port}"],
            "exec": {"argv": ["/bin/sh", "-c", "sleep 20 & echo started $!"], "grace": "1s"},
            "per_source": 1}}))
        grandchildren = []

        def kill_grandchildren():
            for pid in grandchildren:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.addCleanup(kill_grandchildren)

        for round in range(2):
            mark = server.log_mark()
            with connect(("127.0.0.1", port)) as s:
                t0 = time.monotonic()
                first = harness.recv_some(s, 64, timeout=5)
                m = re.match(rb"started (\d+)\n$", first)
                self.assertIsNotNone(m, (first, server.log_text()[-2000:]))
                grandchildren.append(int(m.group(1)))
                self.assertEqual(recv_until_eof(s, timeout=8), b"")
                took = time.monotonic() - t0
            print(f"\n  session {round + 1} ended {took:.2f} s after it started (grace 1 s)", file=sys.stderr)
            self.assertLess(took, 6, "the session outlived its child by more than the grace")
            line = server.wait_for(r"\bconn\b.*service=bg\b", start=mark)
            self.assertIn("reason=child_exited", line)
        self.assertEqual(self.count(r"reject.*service=bg"), 0, server.log_text()[-2000:])
        self.assertEqual(server.stop(), 0)


class LogTests(LifecycleBase):
    def test_a_stalled_log_pipe_never_blocks_serving_and_drops_are_counted(self):
        port = harness.free_port()
        path = os.path.join(self.tmp, "switchboard.json")
        with open(path, "w") as f:
            json.dump(base_config({"day": builtin_service("daytime", [f"tcp://127.0.0.1:{port}"])},
                                  control={"socket": self.sock}), f)
        # stderr is a small pipe that nobody reads until the end.
        r, w = os.pipe()
        fcntl.fcntl(w, 1031, 4096)  # F_SETPIPE_SZ: one page
        proc = subprocess.Popen([harness.SWITCHBOARD, "run", "-c", path], stdin=subprocess.DEVNULL,
                                stdout=w, stderr=w)
        os.close(w)
        self.addCleanup(os.close, r)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        for _ in range(100):
            if os.path.exists(self.sock) and harness.ctl(self.sock, "status", timeout=5).returncode == 0:
                break
            time.sleep(0.1)
        served = 0
        t0 = time.monotonic()
        for _ in range(4000):  # a line each: the pipe is full after a few dozen, the queue after ~2000
            with connect(("127.0.0.1", port), timeout=5) as s:
                if recv_until_eof(s, timeout=5):
                    served += 1
        took = time.monotonic() - t0
        print(f"\n  4000 connections with the log pipe full: {took:.2f} s", file=sys.stderr)
        self.assertEqual(served, 4000)
        metrics = harness.ctl(self.sock, "metrics", timeout=5).stdout
        m = re.search(r"^switchboard_log_lines_dropped_total (\d+)", metrics, re.M)
        self.assertIsNotNone(m, metrics[:2000])
        self.assertGreater(int(m.group(1)), 0)
        # Once the pipe is read again, one line says what was lost.
        os.set_blocking(r, False)
        text = b""
        deadline = time.monotonic() + 10
        while b"log-lines-dropped" not in text and time.monotonic() < deadline:
            try:
                text += os.read(r, 65536)
            except BlockingIOError:
                with connect(("127.0.0.1", port), timeout=5) as s:  # something to log
                    recv_until_eof(s, timeout=5)
                time.sleep(0.1)
        self.assertRegex(text.decode(errors="replace"), r"log-lines-dropped count=\d+")
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                os.read(r, 65536)
            except BlockingIOError:
                time.sleep(0.05)
        self.assertEqual(proc.wait(5), 0)

    def test_child_stderr_is_rate_limited_per_service_with_the_count_logged(self):
        port = harness.free_port()
        noisy = "i=0; while [ $i -lt 2000 ]; do echo noise $i >&2; i=$((i+1)); done; echo done"
        server = self.start(base_config({"noisy": {"listen": [f"tcp://127.0.0.1:{port}"],
                                                   "exec": {"argv": ["/bin/sh", "-c", noisy]}}}))
        for _ in range(2):
            with connect(("127.0.0.1", port)) as s:
                self.assertEqual(recv_until_eof(s, timeout=20), b"done\n")
        line = server.wait_for(r"stderr-suppressed .*service=noisy", timeout=20)
        suppressed = int(re.search(r"suppressed=(\d+)", line).group(1))
        written = self.count(r"\bstderr service=noisy\b")
        print(f"\n  4000 stderr lines: {written} written, {suppressed} counted as suppressed", file=sys.stderr)
        self.assertEqual(written, 200)
        self.assertEqual(written + suppressed, 4000)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
