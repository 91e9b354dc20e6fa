"""tcpmux (RFC 1078): one port where the client names the service it wants.
A service joins with "tcpmux": NAME (its program answers itself) or
{"name": NAME, "plus": true} (switchboard answers "+" first); names are
matched without regard to case, "HELP" lists them, an unknown name gets "-"
and a reason, and bytes sent after the request line reach the service."""
import json
import os
import socket
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, connect, recv_until_eof, run_cli


def mux_service(name, argv, io="splice", plus=False, **extra):
    d = {"exec": {"argv": argv, "io": io}, "tcpmux": {"name": name, "plus": True} if plus else name}
    d.update(extra)
    return d


def exchange(addr, *chunks, pause=0.0, half_close=True):
    """Sends the chunks (pausing between them), then reads until EOF."""
    s = connect(addr)
    try:
        for i, chunk in enumerate(chunks):
            if i and pause:
                time.sleep(pause)
            s.sendall(chunk)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        try:
            return recv_until_eof(s)
        except ConnectionResetError:
            return b"<reset>"
    finally:
        s.close()


class TcpmuxTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = harness.free_port()
        cls.addr = ("127.0.0.1", cls.port)
        cls.echo_port = harness.free_port()
        cls.sock = harness.control_socket_path()
        services = {
            "mux": harness.builtin_service("tcpmux", [f"tcp://127.0.0.1:{cls.port}"]),
            "upper": mux_service("UPPER", ["/usr/bin/tr", "a-z", "A-Z"], plus=True),
            "cat-socket": mux_service("CatSock", ["/bin/cat"], io="socket"),
            "held": mux_service("held", ["/bin/cat"], plus=True, per_source=1),
            "fenced": mux_service("fenced", ["/bin/cat"], plus=True, allow=["10.0.0.0/8"]),
            "off": mux_service("off", ["/bin/cat"], plus=True, enabled=False),
            "echo": harness.builtin_service("echo", [f"tcp://127.0.0.1:{cls.echo_port}"]),
            "forward": {"tcpmux": {"name": "forward", "plus": True},
                        "redirect": {"to": f"tcp://127.0.0.1:{cls.echo_port}"}},
        }
        cls.server = Server(base_config(services, control={"socket": cls.sock}))
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_plus_service_answers_plus_and_gets_the_bytes_after_the_line(self):
        # Request line and data in one segment: nothing after the CRLF is lost.
        self.assertEqual(exchange(self.addr, b"upper\r\nhello mux\n"), b"+\r\nHELLO MUX\n")

    def test_a_service_in_socket_mode_gets_the_socket_after_exactly_the_line(self):
        self.assertEqual(exchange(self.addr, b"CATSOCK\r\nstraight to the child"), b"straight to the child")

    def test_names_match_without_regard_to_case_and_a_bare_lf_ends_the_line(self):
        self.assertEqual(exchange(self.addr, b"uPpEr\nx"), b"+\r\nX")

    def test_a_request_split_across_segments(self):
        self.assertEqual(exchange(self.addr, b"up", b"pe", b"r\r", b"\nsplit", pause=0.05), b"+\r\nSPLIT")

    def test_help_lists_the_enabled_names_one_per_line(self):
        self.assertEqual(exchange(self.addr, b"help\r\n"), b"CatSock\r\nUPPER\r\nfenced\r\nforward\r\nheld\r\n")

    def test_a_redirect_service_behind_tcpmux(self):
        self.assertEqual(exchange(self.addr, b"forward\r\nbounced off echo"), b"+\r\nbounced off echo")

    def test_an_unknown_or_disabled_name_gets_minus_and_a_reason(self):
        for name in (b"nosuch", b"off"):
            reply = exchange(self.addr, name + b"\r\n")
            self.assertTrue(reply.startswith(b"-"), reply)
            self.assertTrue(reply.endswith(b"\r\n"), reply)
            self.assertIn(b"not available", reply)

    def test_an_overlong_request_is_refused(self):
        reply = exchange(self.addr, b"x" * 400, half_close=False)
        self.assertTrue(reply.startswith(b"-Request too long"), reply)

    def test_admission_is_the_chosen_services(self):
        reply = exchange(self.addr, b"fenced\r\n")
        self.assertTrue(reply.startswith(b"-Not admitted"), reply)
        first = connect(self.addr)
        try:
            first.sendall(b"held\r\n")
            self.assertEqual(harness.recv_exactly(first, 3), b"+\r\n")
            reply = exchange(self.addr, b"held\r\n")
            self.assertTrue(reply.startswith(b"-Not admitted (per_source)"), reply)
        finally:
            first.close()
        code, reply = harness.ctl_json(self.sock, "services")
        by_name = {s["name"]: s for s in reply["services"]}
        self.assertGreaterEqual(by_name["fenced"]["rejected"], 1)
        self.assertGreaterEqual(by_name["held"]["rejected_by"]["per_source"], 1)

    def test_the_conn_lines_name_the_chosen_service(self):
        mark = self.server.log_mark()
        exchange(self.addr, b"upper\r\nlog me\n")
        self.server.wait_for(r"conn .*service=mux .*reason=tcpmux", start=mark)
        self.server.wait_for(r"conn .*service=upper .*in=7 out=10", start=mark)


class TcpmuxConfigTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sb-tcpmux-")

    def check(self, services):
        path = os.path.join(self.tmp, "c.json")
        with open(path, "w") as f:
            json.dump(base_config(services), f)
        return run_cli("check", "-c", path)

    def test_a_tcpmux_service_needs_no_listen_of_its_own(self):
        r = self.check({"mux": harness.builtin_service("tcpmux", ["tcp://127.0.0.1:1"]),
                        "a": mux_service("a", ["/bin/cat"])})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_invalid_tcpmux_settings_are_refused_with_reasons(self):
        cases = [
            ({"e": {"listen": "tcp://127.0.0.1:7", "builtin": "echo", "tcpmux": "e"}}, "applies to exec services without"),
            ({"a": mux_service("dup", ["/bin/cat"]), "b": mux_service("DUP", ["/bin/cat"])}, "already service"),
            ({"h": mux_service("help", ["/bin/cat"])}, "HELP"),
            ({"s": mux_service("two words", ["/bin/cat"])}, "invalid tcpmux name"),
            ({"w": {"exec": {"argv": ["/bin/cat"], "wait": True}, "tcpmux": "w",
                    "listen": "tcp://127.0.0.1:9"}}, "without \"wait\""),
            ({"u": harness.builtin_service("tcpmux", ["udp://127.0.0.1:1"])}, "cannot listen on UDP"),
            ({"n": {"exec": {"argv": ["/bin/cat"]}}}, "no \"listen\" address"),
        ]
        for services, text in cases:
            r = self.check(services)
            self.assertNotEqual(r.returncode, 0, services)
            self.assertIn(text, r.stdout + r.stderr, services)


if __name__ == "__main__":
    harness.main()
