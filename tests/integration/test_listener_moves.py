"""Moving a service between overlapping addresses in one reload (README "Live
reconfiguration"): from tcp://127.0.0.1:P to tcp://*:P and back, and the
same for UDP. The old socket is closed just before the new one is bound; a
reload that fails afterwards puts the old socket back. The window in which
a client can be refused is measured and printed, not asserted."""
import socket
import threading
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, ctl_json, udp_request


def reload(test, server, control, config):
    server.write_config(config)
    return ctl_json(control, "reload")


class ListenerMoveTests(unittest.TestCase):
    def start(self, listen):
        self.control = harness.control_socket_path()
        self.config = base_config({"echo": builtin_service("echo", listen)}, control={"socket": self.control})
        server = Server(self.config).start()
        self.addCleanup(server.__exit__)
        return server

    def move(self, server, listen):
        self.config["services"]["echo"]["listen"] = listen
        code, reply = reload(self, server, self.control, self.config)
        self.assertEqual(code, 0, reply)
        return reply

    def test_tcp_from_one_address_to_all_and_back(self):
        port = harness.free_port()
        server = self.start([f"tcp://127.0.0.1:{port}"])
        self.assertTrue(harness.echo_answers(("127.0.0.1", port)))
        self.move(server, [f"tcp://*:{port}"])
        self.assertTrue(harness.echo_answers(("127.0.0.1", port)))
        self.assertTrue(harness.echo_answers(("::1", port)))  # dual-stack now
        line = server.wait_for(r"listener-moved .*to=tcp://\*:%d" % port)
        self.assertIn(f"from=tcp://127.0.0.1:{port}", line)
        self.move(server, [f"tcp://127.0.0.1:{port}"])
        self.assertTrue(harness.echo_answers(("127.0.0.1", port)))
        self.assertFalse(harness.echo_answers(("::1", port)))
        self.assertEqual(server.stop(), 0)

    def test_udp_from_one_address_to_all_and_back(self):
        port = harness.free_port()
        server = self.start([f"udp://127.0.0.1:{port}"])
        self.assertEqual(udp_request(("127.0.0.1", port), b"a"), b"a")
        self.move(server, [f"udp://*:{port}"])
        self.assertEqual(udp_request(("127.0.0.1", port), b"b"), b"b")
        self.assertEqual(udp_request(("::1", port), b"c"), b"c")
        self.move(server, [f"udp://127.0.0.1:{port}"])
        self.assertEqual(udp_request(("127.0.0.1", port), b"d"), b"d")
        self.assertIsNone(udp_request(("::1", port), b"e", timeout=0.5))
        self.assertEqual(server.stop(), 0)

    def test_a_move_whose_reload_fails_later_puts_the_old_socket_back(self):
        port, taken = harness.free_port(), harness.free_port()
        server = self.start([f"tcp://127.0.0.1:{port}"])
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", taken))
        blocker.listen(1)
        # The move binds, then the other address fails: all or nothing.
        self.config["services"]["echo"]["listen"] = [f"tcp://*:{port}", f"tcp://127.0.0.1:{taken}"]
        code, reply = reload(self, server, self.control, self.config)
        self.assertNotEqual(code, 0, reply)
        self.assertTrue(harness.echo_answers(("127.0.0.1", port)))
        self.assertFalse(harness.echo_answers(("::1", port)))
        self.assertEqual(server.stop(), 0)

    def test_the_refused_window_of_a_move_is_small(self):
        # A client connects in a loop while the service moves back and forth
        # ten times; every refusal is counted and reported (no threshold).
        port = harness.free_port()
        server = self.start([f"tcp://127.0.0.1:{port}"])
        stop = threading.Event()
        counts = {"ok": 0, "refused": 0}

        def client():
            deadline = time.monotonic() + 60
            while not stop.is_set() and time.monotonic() < deadline:
                if harness.echo_answers(("127.0.0.1", port), timeout=2):
                    counts["ok"] += 1
                else:
                    counts["refused"] += 1

        t = threading.Thread(target=client)
        t.start()
        try:
            for i in range(10):
                self.move(server, [f"tcp://*:{port}"] if i % 2 == 0 else [f"tcp://127.0.0.1:{port}"])
        finally:
            stop.set()
            t.join(70)
        gaps = [float(line.split("gap_us=")[1].split()[0])
                for line in server.log_text().splitlines() if "listener-moved" in line]
        print(f"\n  10 moves: {counts['ok']} connections served, {counts['refused']} refused; "
              f"old socket closed to new one listening: max {max(gaps):.0f} µs, "
              f"median {sorted(gaps)[len(gaps) // 2]:.0f} µs")
        self.assertEqual(len(gaps), 10)
        self.assertGreater(counts["ok"], 0)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
