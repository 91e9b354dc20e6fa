"""switchboard under systemd, with a fake service manager: an AF_UNIX
datagram socket named by NOTIFY_SOCKET receives READY=1 once serving,
RELOADING=1 (with MONOTONIC_USEC=) when a reload begins then READY=1 once it
applied or failed, WATCHDOG=1 when WATCHDOG_USEC is set, and STOPPING=1 as
soon as shutdown or drain begins, while connections are still open. Children never see the server's NOTIFY_SOCKET, WATCHDOG_* or
LISTEN_*."""
import os
import signal
import socket
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, builtin_service


class FakeManager:
    """The receiving end of sd_notify, at a path or an abstract name."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.name = "@sb-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + self.name[1:])
        else:
            self.name = os.path.join(tempfile.mkdtemp(prefix="sb-notify-"), "notify")
            self.sock.bind(self.name)

    def next(self, timeout=10):
        """The next message as a dict of its KEY=VALUE lines; None on timeout."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        return dict(line.split("=", 1) for line in data.splitlines() if line)

    def wait_for(self, key, timeout=10, skip=("WATCHDOG",)):
        """The next message carrying `key`, ignoring messages of `skip` kinds;
        fails when another message comes first or none within the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            message = self.next(max(left, 0.01)) if left > 0 else None
            if message is None:
                raise AssertionError(f"no {key} message within {timeout}s")
            if key in message:
                return message
            if not any(k in message for k in skip):
                raise AssertionError(f"expected {key}, got {message}")

    def close(self):
        self.sock.close()


class NotifyTests(unittest.TestCase):
    def start(self, manager, shutdown_grace=None, **env_extra):
        self.tmp = tempfile.mkdtemp(prefix="sb-systemd-")
        self.sock = os.path.join(self.tmp, "control.sock")
        self.port = harness.free_port()
        env = dict(os.environ, NOTIFY_SOCKET=manager.name, **env_extra)
        self.config = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}"])},
                                  control={"socket": self.sock})
        if shutdown_grace:
            self.config["shutdown_grace"] = shutdown_grace
        server = Server(self.config, env=env)
        self.addCleanup(server.stop)
        server.start()
        return server

    def test_ready_reloads_and_stopping(self):
        manager = FakeManager()
        self.addCleanup(manager.close)
        server = self.start(manager)
        ready = manager.wait_for("READY")
        self.assertEqual(ready, {"READY": "1", "STATUS": "serving 1 service on 1 listener, 0 connections"})

        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        code, reply = harness.ctl_json(self.sock, "reload")
        self.assertEqual(code, 0, reply)
        reloading = manager.wait_for("RELOADING")
        self.assertEqual(set(reloading), {"RELOADING", "MONOTONIC_USEC"})
        self.assertGreaterEqual(int(reloading["MONOTONIC_USEC"]), before)
        self.assertLessEqual(int(reloading["MONOTONIC_USEC"]), time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000)
        self.assertEqual(manager.wait_for("READY"), {"READY": "1", "STATUS": "reloaded; serving 1 service on 1 listener, 0 connections"})

        server.write_config({"services": {"echo": {"builtin": "echo"}}})
        code, reply = harness.ctl_json(self.sock, "reload")
        self.assertEqual(code, 2, reply)
        manager.wait_for("RELOADING")
        failed = manager.wait_for("READY")
        self.assertTrue(failed["STATUS"].startswith("reload failed, the previous configuration runs on: "), failed)

        self.assertEqual(server.stop(), 0)
        self.assertEqual(manager.wait_for("STOPPING"), {"STOPPING": "1", "STATUS": "stopping; 0 connections open"})

    def serving_one_connection(self, **start):
        """A started server with its manager, and one echo connection open."""
        manager = FakeManager()
        self.addCleanup(manager.close)
        server = self.start(manager, **start)
        manager.wait_for("READY")
        held = harness.connect(("127.0.0.1", self.port))
        self.addCleanup(held.close)
        held.sendall(b"x")
        self.assertEqual(harness.recv_exactly(held, 1), b"x")
        return manager, server, held

    def test_status_counts_connections_and_stopping_comes_when_the_drain_begins(self):
        # A grace far longer than the wait below: STOPPING must not wait for it.
        manager, server, held = self.serving_one_connection(shutdown_grace="120s")
        with held:
            code, reply = harness.ctl_json(self.sock, "reload")
            self.assertEqual(code, 0, reply)
            manager.wait_for("RELOADING")
            self.assertEqual(manager.wait_for("READY")["STATUS"],
                             "reloaded; serving 1 service on 1 listener, 1 connection")
            server.send_signal(signal.SIGTERM)
            # Sent when the shutdown begins, while the connection is still open
            # (before this fix it came only once the drain was over).
            self.assertEqual(manager.wait_for("STOPPING", timeout=20),
                             {"STOPPING": "1", "STATUS": "stopping; 1 connection open"})
            self.assertIsNone(server.proc.poll())
        self.assertEqual(server.wait_exit(), 0)

    def test_ctl_drain_sends_stopping_at_once(self):
        manager, server, held = self.serving_one_connection()
        with held:
            code, reply = harness.ctl_json(self.sock, "drain")
            self.assertEqual(code, 0, reply)
            self.assertEqual(manager.wait_for("STOPPING", timeout=20),
                             {"STOPPING": "1", "STATUS": "stopping; 1 connection open"})
            self.assertIsNone(server.proc.poll())
        self.assertEqual(server.wait_exit(), 0)

    def test_abstract_socket_and_watchdog(self):
        manager = FakeManager(abstract=True)
        self.addCleanup(manager.close)
        server = self.start(manager, WATCHDOG_USEC="200000")
        self.assertEqual(manager.wait_for("READY")["READY"], "1")
        self.assertEqual(manager.wait_for("WATCHDOG", skip=()), {"WATCHDOG": "1"})
        self.assertEqual(manager.wait_for("WATCHDOG", skip=()), {"WATCHDOG": "1"})
        server.wait_for(r"sd-watchdog interval=0\.100\b")

    def test_no_notify_socket_no_messages_no_errors(self):
        server = Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{harness.free_port()}"])}),
                        env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})
        self.addCleanup(server.stop)
        server.start()
        self.assertEqual(server.stop(), 0)
        self.assertNotIn("sd-notify", server.log_text())

    def test_children_never_see_what_systemd_gave_the_server(self):
        manager = FakeManager()
        self.addCleanup(manager.close)
        port = harness.free_port()
        names = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                 "SB_VISIBLE"]
        env = dict(os.environ, NOTIFY_SOCKET=manager.name, WATCHDOG_USEC="60000000", WATCHDOG_PID=str(os.getpid()),
                   LISTEN_FDS="1", LISTEN_PID="1", LISTEN_FDNAMES="x", SB_VISIBLE="yes")
        server = Server(base_config({"env": {"listen": f"tcp://127.0.0.1:{port}",
                                             "exec": {"argv": ["/usr/bin/env"], "pass_env": names}}}), env=env)
        self.addCleanup(server.stop)
        server.start()
        with harness.connect(("127.0.0.1", port)) as s:
            s.shutdown(socket.SHUT_WR)
            out = harness.recv_until_eof(s).decode()
        self.assertIn("SB_VISIBLE=yes\n", out)
        for name in names[:-1]:
            self.assertNotIn(name + "=", out)


if __name__ == "__main__":
    harness.main()
