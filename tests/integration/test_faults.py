"""Failures on purpose: with SWITCHBOARD_FAULTS naming a file, the server
fails its own accept4, bind, listen, spawn, splice, pidfd_open and log
writes as the list in that file says (re-read on SIGUSR2). Each test
provokes one failure where it happens in production and checks that the
server logs it, counts it, keeps serving what it has, and recovers once the
fault is used up."""
import json
import os
import re
import signal
import socket
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, connect, ctl_json, recv_exactly, recv_until_eof


def cat_service(port, io="splice"):
    return {"listen": [f"tcp://127.0.0.1:{port}"], "exec": {"argv": ["/bin/cat"], "io": io}}


class FaultTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sb-faults-")
        self.faults = os.path.join(self.tmp, "faults")
        with open(self.faults, "w"):
            pass
        self.sock = harness.control_socket_path()
        self.ports = {n: harness.free_port() for n in ("echo", "cat", "cat_socket", "extra")}
        self.config = base_config({
            "echo": harness.builtin_service("echo", [f"tcp://127.0.0.1:{self.ports['echo']}"]),
            "cat": cat_service(self.ports["cat"]),
            "cat-socket": cat_service(self.ports["cat_socket"], io="socket"),
        }, control={"socket": self.sock})
        env = dict(os.environ, SWITCHBOARD_FAULTS=self.faults)
        self.server = Server(self.config, env=env)
        self.server.start()
        self.addCleanup(self.server.stop)
        # A client that is already being served when a fault strikes.
        self.held = connect(("127.0.0.1", self.ports["echo"]))
        self.addCleanup(self.held.close)
        self.assert_held_served()

    def arm(self, spec):
        with open(self.faults + ".partial", "w") as f:
            f.write(spec)
        os.replace(self.faults + ".partial", self.faults)
        mark = self.server.log_mark()
        self.server.send_signal(signal.SIGUSR2)
        self.server.wait_for(r"faults .*armed=", start=mark)
        return mark

    def assert_held_served(self):
        self.held.sendall(b"still here\n")
        self.assertEqual(recv_exactly(self.held, 11), b"still here\n")

    def status(self):
        code, reply = ctl_json(self.sock, "status")
        self.assertEqual(code, 0, reply)
        return reply

    def service(self, name):
        code, reply = ctl_json(self.sock, "services")
        self.assertEqual(code, 0, reply)
        return next(s for s in reply["services"] if s["name"] == name)

    def cat_round_trip(self, port, payload=b"through cat\n"):
        """What came back through cat; b"" when the connection was closed or
        reset without an answer."""
        s = connect(("127.0.0.1", port))
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            return recv_until_eof(s)
        except (ConnectionResetError, BrokenPipeError, OSError):
            return b""
        finally:
            s.close()

    def assert_accept_fault_recovers(self, name, text):
        mark = self.arm(f"accept4={name}*1")
        c = connect(("127.0.0.1", self.ports["echo"]))
        self.addCleanup(c.close)
        line = self.server.wait_for(r"accept-paused", start=mark)
        self.assertIn(text, line)
        # Accepting pauses for a moment, then the waiting client is served.
        self.assert_held_served()
        c.sendall(b"late\n")
        self.assertEqual(recv_exactly(c, 5, timeout=10), b"late\n")
        status = self.status()
        self.assertEqual(status["accept_failures"], 1, status)
        self.assertGreaterEqual(status["fd_budget"]["pauses"], 1, status)
        self.assertFalse(status["fd_budget"]["paused"], status)

    def test_accept_emfile_pauses_accepting_and_resumes(self):
        self.assert_accept_fault_recovers("EMFILE", "Too many open files")

    def test_accept_enfile_pauses_accepting_and_resumes(self):
        self.assert_accept_fault_recovers("ENFILE", "Too many open files in system")

    def test_accept_enomem_pauses_accepting_and_resumes(self):
        self.assert_accept_fault_recovers("ENOMEM", "Cannot allocate memory")

    def test_accept_unexpected_error_pauses_the_listener_instead_of_spinning(self):
        mark = self.arm("accept4=EIO")  # until cleared
        c = connect(("127.0.0.1", self.ports["echo"]))
        self.addCleanup(c.close)
        self.server.wait_for(r"accept-failed .*Input/output error", start=mark)
        time.sleep(1.5)
        failures = [l for l in self.server.lines[mark:] if re.search(r" accept-failed ", l)]
        # One line a second while it lasts (the old accept loop met it again
        # on every loop turn: thousands of lines, and a spinning loop).
        self.assertLessEqual(len(failures), 3, "\n".join(failures[:5]))
        self.assert_held_served()
        # Cleared (the control socket's accept4 failed too, so ctl waits for
        # this): the waiting client is accepted at the next look.
        self.arm("")
        c.sendall(b"late\n")
        self.assertEqual(recv_exactly(c, 5, timeout=10), b"late\n")
        failures = [l for l in self.server.lines[mark:] if re.search(r" accept-failed ", l)]
        self.assertEqual(self.status()["accept_failures"], len(failures))

    def test_accept_one_connections_error_is_retried_at_once(self):
        mark = self.arm("accept4=EHOSTUNREACH*3")
        start = time.monotonic()
        self.assertTrue(harness.echo_answers(("127.0.0.1", self.ports["echo"])))
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertNotRegex("\n".join(self.server.lines[mark:]), r"accept-failed|accept-paused")
        self.assertEqual(self.status()["accept_failures"], 0)

    def add_extra_service(self):
        cfg = json.loads(json.dumps(self.config))
        cfg["services"]["extra"] = harness.builtin_service("echo", [f"tcp://127.0.0.1:{self.ports['extra']}"])
        self.server.write_config(cfg)

    def assert_reload_fault_recovers(self, spec, text):
        self.add_extra_service()
        mark = self.arm(spec)
        self.server.send_signal(signal.SIGHUP)
        self.server.wait_for(r"reload-failed", start=mark)
        line = self.server.wait_for(text, start=mark)
        self.assertIn(f"127.0.0.1:{self.ports['extra']}", line)
        self.assertFalse(harness.echo_answers(("127.0.0.1", self.ports["extra"])))
        self.assert_held_served()
        self.assertTrue(harness.echo_answers(("127.0.0.1", self.ports["echo"])))
        status = self.status()
        self.assertEqual(status["reloads"]["failed"], 1, status)
        # The fault is used up: the same reload now succeeds.
        mark = self.server.log_mark()
        self.server.send_signal(signal.SIGHUP)
        self.server.wait_for(r"reloaded", start=mark)
        self.assertTrue(harness.echo_answers(("127.0.0.1", self.ports["extra"])))
        self.assertEqual(self.status()["reloads"]["succeeded"], 1)
        return line

    def test_bind_eaddrinuse_fails_the_reload_and_keeps_serving(self):
        self.assert_reload_fault_recovers("bind=EADDRINUSE*1", "Address already in use")

    def test_listen_eaddrinuse_fails_the_reload_and_keeps_serving(self):
        self.assert_reload_fault_recovers("listen=EADDRINUSE*1", "Address already in use")

    def assert_spawn_fault_recovers(self, spec, text, port_name="cat"):
        mark = self.arm(spec)
        self.assertEqual(self.cat_round_trip(self.ports[port_name]), b"")
        line = self.server.wait_for(r"spawn.*fail|fail.*spawn", start=mark)
        self.assertIn(text, line)
        service = "cat-socket" if port_name == "cat_socket" else "cat"
        self.assertEqual(self.service(service)["spawn_failures"], 1)
        self.assert_held_served()
        self.assertEqual(self.cat_round_trip(self.ports[port_name]), b"through cat\n")
        # Nothing is left behind: no child, no connection.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.status()["children"] != 0:
            time.sleep(0.05)
        self.assertEqual(self.status()["children"], 0)

    def test_spawn_eagain_refuses_one_client_and_recovers(self):
        self.assert_spawn_fault_recovers("spawn=EAGAIN*1", "Resource temporarily unavailable")

    def test_spawn_enomem_in_socket_mode(self):
        self.assert_spawn_fault_recovers("spawn=ENOMEM*1", "Cannot allocate memory", port_name="cat_socket")

    def test_pidfd_open_failure_kills_the_child_and_recovers(self):
        self.assert_spawn_fault_recovers("pidfd_open=ENOMEM*1", "pidfd_open: Cannot allocate memory")

    def test_splice_failure_ends_one_session_with_its_error(self):
        mark = self.arm("splice=ENOMEM*1")
        s = connect(("127.0.0.1", self.ports["cat"]))
        self.addCleanup(s.close)
        s.sendall(b"doomed\n")
        try:
            self.assertEqual(recv_until_eof(s), b"")
        except ConnectionResetError:
            pass
        line = self.server.wait_for(r"conn-error .*service=cat", start=mark)
        self.assertIn("Cannot allocate memory", line)
        self.server.wait_for(r"conn .*service=cat .*reason=error", start=mark)
        self.assert_held_served()
        self.assertEqual(self.cat_round_trip(self.ports["cat"]), b"through cat\n")

    def test_splice_epipe_reads_as_a_reset(self):
        mark = self.arm("splice=EPIPE*1")
        s = connect(("127.0.0.1", self.ports["cat"]))
        self.addCleanup(s.close)
        s.sendall(b"doomed\n")
        s.shutdown(socket.SHUT_WR)
        try:
            recv_until_eof(s)
        except ConnectionResetError:
            pass
        self.server.wait_for(r"conn .*service=cat", start=mark)
        self.assertEqual(self.cat_round_trip(self.ports["cat"]), b"through cat\n")

    def test_log_write_enospc_loses_lines_not_service(self):
        mark = self.arm("log_write=ENOSPC*3")
        # These connections' log lines are the ones that cannot be written.
        for _ in range(3):
            self.assertTrue(harness.echo_answers(("127.0.0.1", self.ports["echo"])))
        self.assert_held_served()
        # Writing works again: the next connection is logged.
        self.assertEqual(self.cat_round_trip(self.ports["cat"]), b"through cat\n")
        self.server.wait_for(r"conn .*service=cat", start=mark)
        lost = self.server.log_text().split("\n")[mark:]
        self.assertEqual(sum(1 for l in lost if " conn " in f" {l}" and "service=echo" in l), 0, lost)
        # Counted, and said once writing works again.
        self.server.wait_for(r"log-lines-dropped .*count=3", start=mark)
        code, reply = harness.ctl_json(self.sock, "metrics")
        self.assertEqual(code, 0, reply)
        self.assertIn("switchboard_log_lines_dropped_total 3\n", reply["metrics"])

    def test_an_invalid_fault_list_is_refused_and_arms_nothing(self):
        with open(self.faults, "w") as f:
            f.write("accept4=EMFILE*1 bind=EBOGUS")
        mark = self.server.log_mark()
        self.server.send_signal(signal.SIGUSR2)
        line = self.server.wait_for(r"faults .*error=", start=mark)
        self.assertIn("EBOGUS", line)
        self.assertTrue(harness.echo_answers(("127.0.0.1", self.ports["echo"])))
        self.assertEqual(self.status()["accept_failures"], 0)


class NoFaultsWithoutTheVariable(unittest.TestCase):
    def test_sigusr2_arms_nothing_without_switchboard_faults(self):
        port = harness.free_port()
        cfg = base_config({"echo": harness.builtin_service("echo", [f"tcp://127.0.0.1:{port}"])})
        env = dict(os.environ)
        env.pop("SWITCHBOARD_FAULTS", None)
        with Server(cfg, env=env) as server:
            server.start()
            self.assertNotIn("faults", server.log_text())
            self.assertTrue(harness.echo_answers(("127.0.0.1", port)))


if __name__ == "__main__":
    harness.main()
