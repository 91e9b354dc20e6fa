"""SIGTERM/SIGINT: stop accepting, let connections drain for the grace,
then close what is left and exit 0; a second signal stops at once."""
import signal
import socket
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, connect, recv_exactly, recv_until_eof


class ShutdownTests(unittest.TestCase):
    def start(self, grace):
        self.port = harness.free_port()
        cfg = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}"])},
                          shutdown_grace=grace)
        self.server = Server(cfg).start()
        return self.server

    def tearDown(self):
        self.server.__exit__()

    def test_open_connection_finishes_during_grace(self):
        server = self.start("20s")
        s = connect(("127.0.0.1", self.port))
        s.sendall(b"before")
        self.assertEqual(recv_exactly(s, 6), b"before")
        server.send_signal(signal.SIGTERM)
        server.wait_for(r"\bshutdown\b")
        # No new connections...
        with self.assertRaises(OSError):
            c = connect(("127.0.0.1", self.port), timeout=1)
            c.sendall(b"x")
            if not c.recv(1):
                raise ConnectionRefusedError
        # ...but the open one is still served.
        s.sendall(b"during")
        self.assertEqual(recv_exactly(s, 6), b"during")
        self.assertIsNone(server.proc.poll())
        s.close()
        self.assertEqual(server.wait_exit(10), 0)

    def test_grace_expiry_closes_leftovers(self):
        server = self.start("1s")
        s = connect(("127.0.0.1", self.port))
        s.sendall(b"x")
        recv_exactly(s, 1)
        t0 = time.monotonic()
        server.send_signal(signal.SIGINT)
        self.assertEqual(recv_until_eof(s, timeout=10), b"")
        self.assertEqual(server.wait_exit(10), 0)
        self.assertLess(time.monotonic() - t0, 5)
        s.close()

    def test_second_signal_stops_at_once(self):
        server = self.start("60s")
        s = connect(("127.0.0.1", self.port))
        s.sendall(b"x")
        recv_exactly(s, 1)
        server.send_signal(signal.SIGTERM)
        server.wait_for(r"\bshutdown\b")
        t0 = time.monotonic()
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(10), 0)
        self.assertLess(time.monotonic() - t0, 3)
        s.close()

    def test_idle_connection_is_closed(self):
        self.port = harness.free_port()
        cfg = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}"],
                                                   timeouts={"idle": "500ms"})})
        self.server = Server(cfg).start()
        s = connect(("127.0.0.1", self.port))
        t0 = time.monotonic()
        self.assertEqual(recv_until_eof(s, timeout=5), b"")
        self.assertLess(time.monotonic() - t0, 3)
        self.server.wait_for(r"conn .*reason=idle")
        s.close()
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    harness.main()
