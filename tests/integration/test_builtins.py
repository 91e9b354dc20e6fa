"""Every built-in over TCP (IPv4 and IPv6), UDP and a UNIX socket, with the
RFCs' formats, backpressure, reflection refusal and the per-connection log."""
import json
import os
import re
import socket
import stat
import struct
import threading
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, connect, recv_exactly, recv_until_eof, udp_request

KINDS = ["echo", "discard", "chargen", "daytime", "time"]


class BuiltinTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ports = {k: harness.free_port() for k in KINDS}
        cls.v6port = harness.free_port("::1")
        cls.sockdir = os.path.join(harness.tempfile.mkdtemp(prefix="sb-unix-"), "run")
        cls.unix_path = os.path.join(cls.sockdir, "echo.sock")
        services = {}
        for k, p in cls.ports.items():
            services[k] = builtin_service(k, [f"tcp://127.0.0.1:{p}", f"udp://127.0.0.1:{p}"])
        services["echo6"] = builtin_service("echo", [f"tcp://[::1]:{cls.v6port}", f"udp://[::1]:{cls.v6port}"])
        services["echo-unix"] = builtin_service("echo", [f"unix:{cls.unix_path}"], socket={"mode": "0660"})
        services["echo-reflect"] = builtin_service("echo", [f"udp://127.0.0.1:{harness.free_port()}"],
                                                   allow_reflection=True)
        cls.reflect_addr = ("127.0.0.1", int(services["echo-reflect"]["listen"][0].rsplit(":", 1)[1]))
        cls.server = Server(base_config(services)).start()

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        assert code == 0, f"exit code {code}\n{cls.server.log_text()[-3000:]}"
        assert not os.path.exists(cls.unix_path), "the UNIX socket file was left behind"

    def addr(self, kind):
        return ("127.0.0.1", self.ports[kind])

    # echo --------------------------------------------------------------
    def test_echo_tcp_v4(self):
        with connect(self.addr("echo")) as s:
            s.sendall(b"hello\r\n")
            self.assertEqual(recv_exactly(s, 7), b"hello\r\n")

    def test_echo_tcp_v6(self):
        with connect(("::1", self.v6port)) as s:
            s.sendall(b"over ipv6")
            self.assertEqual(recv_exactly(s, 9), b"over ipv6")

    def test_echo_udp_v4_and_v6(self):
        self.assertEqual(udp_request(self.addr("echo"), b"ping"), b"ping")
        self.assertEqual(udp_request(("::1", self.v6port), b"ping6"), b"ping6")

    def test_echo_unix_socket_and_mode(self):
        mode = stat.S_IMODE(os.stat(self.unix_path).st_mode)
        self.assertEqual(mode, 0o660)
        with connect(self.unix_path) as s:
            s.sendall(b"local")
            self.assertEqual(recv_exactly(s, 5), b"local")

    def test_echo_large_payload_round_trip(self):
        data = os.urandom(4 << 20)
        got = bytearray()
        with connect(self.addr("echo")) as s:
            def reader():
                got.extend(recv_exactly(s, len(data), timeout=30))
            t = threading.Thread(target=reader)
            t.start()
            s.sendall(data)
            t.join(40)
        self.assertEqual(bytes(got), data)

    def test_echo_backpressure_bounds_memory(self):
        # A client that sends 64 MiB and reads nothing: the server must stop
        # reading instead of buffering it all.
        before = harness.rss_kib(self.server.pid)
        s = connect(self.addr("echo"))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.setblocking(False)
        sent = 0
        chunk = b"x" * 65536
        deadline = time.monotonic() + 5
        while sent < (64 << 20) and time.monotonic() < deadline:
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        grown = harness.rss_kib(self.server.pid) - before
        self.assertLess(sent, 64 << 20, "the server accepted 64 MiB from a client that reads nothing")
        self.assertLess(grown, 1024, f"RSS grew by {grown} KiB for one stalled echo client")
        # Reading resumes the flow: every byte comes back.
        s.setblocking(True)
        s.shutdown(socket.SHUT_WR)
        back = recv_until_eof(s, timeout=20)
        s.close()
        self.assertEqual(len(back), sent)

    # discard -------------------------------------------------------------
    def test_discard(self):
        with connect(self.addr("discard")) as s:
            s.sendall(b"x" * 100000)
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                s.recv(1)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"")
        self.assertIsNone(udp_request(self.addr("discard"), b"gone", timeout=0.3))

    # chargen -------------------------------------------------------------
    def check_chargen_lines(self, data):
        lines = data.split(b"\r\n")
        full = [l for l in lines[:-1]]
        self.assertGreater(len(full), 2)
        printable = bytes(range(32, 127))
        for i, line in enumerate(full):
            self.assertEqual(len(line), 72)
            start = printable.index(line[:1])
            expect = bytes(printable[(start + j) % 95] for j in range(72))
            self.assertEqual(line, expect)
            if i:
                self.assertEqual((printable.index(full[i - 1][:1]) + 1) % 95, start)

    def test_chargen_tcp(self):
        with connect(self.addr("chargen")) as s:
            data = recv_exactly(s, 74 * 200)
        self.assertTrue(data.startswith(b" !\"#$%&"))
        self.check_chargen_lines(data)

    def test_chargen_udp(self):
        reply = udp_request(self.addr("chargen"), b"")
        self.assertIsNotNone(reply)
        self.assertLessEqual(len(reply), 512)
        self.assertTrue(all(32 <= c < 127 or c in (13, 10) for c in reply))

    # daytime and time ----------------------------------------------------
    def check_daytime(self, text):
        self.assertRegex(text, rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n$")
        parsed = time.strptime(text.decode().strip(), "%a %b %d %H:%M:%S %Y")
        self.assertLess(abs(time.mktime(parsed) - time.mktime(time.gmtime())), 5)

    def test_daytime_tcp_and_udp(self):
        with connect(self.addr("daytime")) as s:
            self.check_daytime(recv_until_eof(s))
        self.check_daytime(udp_request(self.addr("daytime"), b"\n"))

    def test_time_tcp_and_udp(self):
        with connect(self.addr("time")) as s:
            data = recv_until_eof(s)
        for raw in (data, udp_request(self.addr("time"), b"")):
            self.assertEqual(len(raw), 4)
            value = struct.unpack("!I", raw)[0]
            self.assertLess(abs(value - (int(time.time()) + 2208988800) % (1 << 32)), 5)

    # abuse -----------------------------------------------------------------
    def test_udp_reflection_sources_are_refused(self):
        # A datagram "from" a privileged port (as if from another UDP
        # service) gets no answer, unless the service allows it.
        self.assertIsNone(udp_request(self.addr("echo"), b"loop?", timeout=0.5, source=("127.0.0.1", 1019)))
        self.assertEqual(udp_request(self.reflect_addr, b"ok", timeout=2, source=("127.0.0.1", 1018)), b"ok")

    def test_connection_log_line(self):
        mark = self.server.log_mark()
        with connect(self.addr("echo")) as s:
            s.sendall(b"12345")
            recv_exactly(s, 5)
        line = self.server.wait_for(r"\bconn\b.*service=echo\b", start=mark)
        self.assertRegex(line, r"peer=127\.0\.0\.1:\d+")
        self.assertRegex(line, r"\bin=5\b")
        self.assertRegex(line, r"\bout=5\b")
        self.assertRegex(line, r"duration=\d+\.\d+")
        self.assertRegex(line, r"reason=eof")


class JsonLogTests(unittest.TestCase):
    def test_json_log_lines(self):
        port = harness.free_port()
        cfg = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])})
        cfg["log"] = {"format": "json"}
        with Server(cfg) as server:
            server.start()
            with connect(("127.0.0.1", port)) as s:
                s.sendall(b"abc")
                recv_exactly(s, 3)
            line = server.wait_for(r'"event":"conn"')
            record = json.loads(line)
            self.assertEqual(record["service"], "echo")
            self.assertEqual(record["in"], 3)
            self.assertEqual(record["out"], 3)
            self.assertIn("ts", record)
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
