"""exec services, one child per connection: io "splice" (pipes pumped by the
loop) and io "socket" (the client socket is the child's fd 0/1), with the
environment, fds, stderr, exit status, half-close, backpressure, timeouts
and failures a user would notice."""
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import unittest

import harness
from harness import Server, base_config, connect, recv_exactly, recv_until_eof

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


def prog(name):
    return os.path.join(PROGRAMS, name)


def exec_service(port, argv, **exec_extra):
    service_extra = exec_extra.pop("service", {})
    d = {"listen": [f"tcp://127.0.0.1:{port}"], "exec": dict(argv=argv, **exec_extra)}
    d.update(service_extra)
    return d


class ExecTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sb-exec-")
        cls.doomed = os.path.join(cls.tmp, "doomed.sh")
        shutil.copy(prog("show_env.sh"), cls.doomed)
        names = ["cat", "cat_socket", "env", "env_socket", "fds", "fds_socket", "stderr", "peer", "doomed",
                 "ignore", "slow", "idle", "maxdur", "silent", "answer", "flood_out"]
        cls.ports = {n: harness.free_port() for n in names}
        p = cls.ports
        os.environ["SB_TEST_PASSED"] = "passed-through"
        services = {
            "cat": exec_service(p["cat"], ["/bin/cat"]),
            "cat-socket": exec_service(p["cat_socket"], ["/bin/cat"], io="socket"),
            "env": exec_service(p["env"], [prog("show_env.sh")], env={"GREETING": "hello world"},
                                pass_env=["SB_TEST_PASSED"]),
            "env-socket": exec_service(p["env_socket"], [prog("show_env.sh")], io="socket"),
            "fds": exec_service(p["fds"], [prog("list_fds.sh")]),
            "fds-socket": exec_service(p["fds_socket"], [prog("list_fds.sh")], io="socket"),
            "stderr": exec_service(p["stderr"], [prog("stderr_lines.sh")]),
            "peer": exec_service(p["peer"], [prog("peer.py")], io="socket"),
            "doomed": exec_service(p["doomed"], [cls.doomed]),
            "ignore": exec_service(p["ignore"], [prog("ignore_term.sh")], grace="300ms"),
            "slow": exec_service(p["slow"], [prog("slow_reader.sh")]),
            "silent": exec_service(p["silent"], [prog("silent.sh")], grace="300ms"),
            "answer": exec_service(p["answer"], [prog("slow_answer.sh")], grace="400ms"),
            "flood-out": exec_service(p["flood_out"], ["/usr/bin/yes"]),
            "idle": exec_service(p["idle"], ["/bin/cat"], service={"timeouts": {"idle": "500ms"}}),
            "maxdur": exec_service(p["maxdur"], ["/bin/cat"], service={"timeouts": {"max_duration": "700ms"}}),
        }
        cls.control = harness.control_socket_path()
        cls.server = Server(base_config(services, control={"socket": cls.control})).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"exit code {code}\n{cls.server.log_text()[-3000:]}"

    def spawn_failures(self, service):
        r = harness.ctl(self.control, "metrics")
        m = re.search(r'^switchboard_children_spawn_failures_total\{service="%s"\} (\d+)$' % service, r.stdout,
                      re.M)
        self.assertIsNotNone(m, r.stdout)
        return int(m.group(1))

    def addr(self, name):
        return ("127.0.0.1", self.ports[name])

    def ask(self, name, payload=b"", timeout=10):
        with connect(self.addr(name)) as s:
            if payload:
                s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            return recv_until_eof(s, timeout=timeout)

    def test_splice_cat_round_trip_and_half_close(self):
        data = os.urandom(3 << 20)
        got = bytearray()
        with connect(self.addr("cat")) as s:
            t = threading.Thread(target=lambda: got.extend(recv_until_eof(s, timeout=30)))
            t.start()
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)  # cat sees EOF on stdin, output still flows back
            t.join(40)
        self.assertEqual(len(got), len(data))
        self.assertEqual(bytes(got), data)
        line = self.server.wait_for(rf"conn .*service=cat .*in={len(data)} out={len(data)}")
        self.assertRegex(line, r"pid=\d+ exit=0")

    def test_socket_mode_cat(self):
        self.assertEqual(self.ask("cat_socket", b"through the socket\n"), b"through the socket\n")

    def check_env(self, text, proto_port):
        env = dict(l.split("=", 1) for l in text.decode().splitlines() if "=" in l)
        self.assertEqual(env["PROTO"], "TCP")
        self.assertEqual(env["TCPREMOTEIP"], "127.0.0.1")
        self.assertEqual(env["TCPLOCALIP"], "127.0.0.1")
        self.assertEqual(env["TCPLOCALPORT"], str(proto_port))
        self.assertEqual(env["REMOTE_ADDR"], "127.0.0.1")
        self.assertEqual(env["REMOTE_PORT"], env["TCPREMOTEPORT"])
        self.assertIn("PATH", env)
        return env

    def test_environment_is_clean_and_complete(self):
        env = self.check_env(self.ask("env"), self.ports["env"])
        self.assertEqual(env["GREETING"], "hello world")
        self.assertEqual(env["SB_TEST_PASSED"], "passed-through")
        # Nothing else leaks from the server's environment.
        allowed = {"PROTO", "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT", "REMOTE_ADDR",
                   "REMOTE_PORT", "PATH", "GREETING", "SB_TEST_PASSED", "PWD", "SHLVL", "_", "OLDPWD"}
        self.assertLessEqual(set(env) - allowed, set(), "unexpected variables in the child's environment")
        env = self.check_env(self.ask("env_socket"), self.ports["env_socket"])
        self.assertNotIn("SB_TEST_PASSED", env)

    def test_no_fd_leaks_into_children(self):
        for name in ("fds", "fds_socket"):
            fds = sorted(int(x) for x in self.ask(name).split())
            # 0, 1, 2 and the one ls opened to read /proc/self/fd.
            self.assertLessEqual(len(fds), 4, f"{name}: child has fds {fds}")
            self.assertEqual(fds[:3], [0, 1, 2], name)

    def test_stderr_goes_to_the_log_not_the_client(self):
        mark = self.server.log_mark()
        out = self.ask("stderr")
        self.assertEqual(out, b"to the client\n")
        first = self.server.wait_for(r"first complaint", start=mark)
        self.assertRegex(first, r"service=stderr")
        self.assertRegex(first, r"pid=\d+")
        self.server.wait_for(r"second complaint", start=mark)
        self.server.wait_for(r"conn .*service=stderr .*exit=3", start=mark)

    def test_socket_mode_child_sees_its_peer(self):
        with connect(self.addr("peer")) as s:
            local = s.getsockname()
            out = recv_until_eof(s)
        self.assertEqual(out.decode().strip(), f"peer=127.0.0.1:{local[1]} blocking=True")

    def test_spawn_failure_closes_client_and_service_keeps_serving(self):
        os.rename(self.doomed, self.doomed + ".gone")
        try:
            before = self.spawn_failures("doomed")
            mark = self.server.log_mark()
            self.assertEqual(self.ask("doomed"), b"")
            self.server.wait_for(r"spawn.*service=doomed.*(No such file|ENOENT)", start=mark)
            self.assertEqual(self.spawn_failures("doomed"), before + 1)
        finally:
            os.rename(self.doomed + ".gone", self.doomed)
        self.assertIn(b"PROTO=TCP", self.ask("doomed"))

    def test_child_that_ignores_eof_and_sigterm_is_killed(self):
        mark = self.server.log_mark()
        s = connect(self.addr("ignore"))
        self.assertTrue(s.recv(100).startswith(b"started\n"))
        t0 = time.monotonic()
        s.close()
        line = self.server.wait_for(r"conn .*service=ignore", start=mark, timeout=10)
        self.assertRegex(line, r"signal=9")
        self.assertLess(time.monotonic() - t0, 5)

    def test_a_silent_child_is_terminated_a_grace_after_its_client_left(self):
        # The child never writes, so only the client's EOF says it is gone.
        mark = self.server.log_mark()
        s = connect(self.addr("silent"))
        time.sleep(0.3)  # let the child start
        t0 = time.monotonic()
        s.close()
        line = self.server.wait_for(r"conn .*service=silent", start=mark, timeout=10)
        self.assertRegex(line, r"signal=15")
        self.assertLess(time.monotonic() - t0, 3)

    def test_a_child_still_answering_a_half_closed_client_is_not_cut_off(self):
        # 1.5 s of answer with a 400 ms grace: busy is not gone.
        got = self.ask("answer", b"request\n")
        self.assertEqual(got, b"".join(b"line %d\n" % i for i in range(1, 16)))

    def test_a_child_flooding_a_client_that_does_not_read_keeps_memory_bounded(self):
        # A first connection pays for what any first spawn and pump cost
        # (stacks, allocator arenas, sanitizer shadow), so the figure below
        # is what one flooding connection adds.
        with connect(self.addr("flood_out")) as warm:
            time.sleep(0.3)
        time.sleep(0.3)
        before = harness.rss_kib(self.server.pid)
        cpu0 = harness.cpu_seconds(self.server.pid)
        s = connect(self.addr("flood_out"))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        time.sleep(3)  # `yes` writes as fast as it can; we read nothing
        grown = harness.rss_kib(self.server.pid) - before
        used = harness.cpu_seconds(self.server.pid) - cpu0
        s.close()
        # The server neither buffered what the client would not take nor spun on it.
        self.assertLess(grown, 1024, f"RSS grew {grown} KiB while a child flooded a client that does not read")
        self.assertLess(used, 0.5, f"{used:.2f}s of CPU in 3s of backpressure")

    def test_flooding_a_slow_child_keeps_memory_bounded(self):
        before = harness.rss_kib(self.server.pid)
        s = connect(self.addr("slow"))
        s.setblocking(False)
        sent = 0
        chunk = b"y" * 65536
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        grown = harness.rss_kib(self.server.pid) - before
        s.close()
        self.assertLess(sent, 32 << 20)
        self.assertLess(grown, 1024, f"RSS grew {grown} KiB while a client flooded a slow child")

    def test_idle_timeout_and_max_duration(self):
        for name, reason in (("idle", "idle"), ("maxdur", "max_duration")):
            mark = self.server.log_mark()
            with connect(self.addr(name)) as s:
                t0 = time.monotonic()
                if name == "maxdur":
                    # Busy, not idle: still cut at max_duration.
                    try:
                        while time.monotonic() - t0 < 5:
                            s.sendall(b"tick\n")
                            if not s.recv(100):
                                break
                            time.sleep(0.1)
                    except OSError:
                        pass
                else:
                    recv_until_eof(s, timeout=10)
                self.assertLess(time.monotonic() - t0, 4)
            self.server.wait_for(rf"conn .*service={name} .*reason={reason}", start=mark)


if __name__ == "__main__":
    harness.main()
