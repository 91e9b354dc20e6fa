"""redirect as a client and its upstream see it: bytes both ways through a
real HTTP server and through a chain of two switchboards, half-close in
both directions, names resolved at connect time, an upstream that refuses
or a name that does not resolve (client closed, logged, counted), the
idle timeout, what an idle forwarded connection holds, and the PROXY
protocol header as haproxy (accept-proxy) and a raw listener read it."""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, connect, recv_exactly, recv_until_eof

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def redirect_service(listen, to, **extra):
    r = {"to": to}
    r.update(extra.pop("redirect", {}))
    d = {"listen": listen, "redirect": r}
    d.update(extra)
    return d


class Upstream:
    """A TCP (or UNIX) listener in this process whose accepted connections
    run `handler(conn)` on a thread each; every socket it accepted stays
    reachable in `accepted`."""

    def __init__(self, handler, family=socket.AF_INET, path=None, backlog=64):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            self.sock.bind(path)
            self.addr = path
        else:
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            self.sock.bind((host, 0))
            self.addr = (host, self.sock.getsockname()[1])
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.handler = handler
        self.accepted = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(10)
            self.accepted.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()
        for c in self.accepted:
            c.close()


def read_to_eof(conn):
    """The upstream's side: what arrived until the forwarder closed (the
    connection's 10 s timeout is kept)."""
    return recv_until_eof(conn, timeout=10, limit=1 << 26)


def wait_listening(addr, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connect(addr, timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {addr}")


def metric(server_control, name, service):
    r = harness.ctl(server_control, "metrics")
    m = re.search(r'^%s\{service="%s"\} (\d+)$' % (name, service), r.stdout, re.M)
    return int(m.group(1)) if m else None


def start_haproxy(directory, mode, port, sections):
    """Debian's haproxy in the foreground on a configuration in `directory`:
    the settings every test shares, in `mode`, then `sections`; returned
    once it listens on `port`."""
    cfg = os.path.join(directory, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(f"""global
  maxconn 100
defaults
  mode {mode}
  timeout connect 5s
  timeout client 10s
  timeout server 10s
""" + sections)
    haproxy = subprocess.Popen([HAPROXY, "-db", "-f", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(("127.0.0.1", port))
    return haproxy


def closed_without_answer(s, timeout=5):
    """True when the server closes (or resets) `s` without sending a byte."""
    try:
        return recv_until_eof(s, timeout=timeout) == b""
    except ConnectionResetError:
        return True


class ForwardingTests(unittest.TestCase):
    def start(self, services, **extra):
        self.control = harness.control_socket_path()
        cfg = base_config(services, **extra)
        cfg["control"] = {"socket": self.control}
        server = Server(cfg)
        self.addCleanup(server.__exit__)
        return server.start()

    def upstream(self, handler, **kw):
        u = Upstream(handler, **kw)
        self.addCleanup(u.close)
        return u

    # bytes both ways -------------------------------------------------------
    def test_http_download_and_upload_through_redirect(self):
        root = tempfile.mkdtemp(prefix="sb-http-")
        self.addCleanup(shutil.rmtree, root, True)
        body = os.urandom(3 * 1024 * 1024)
        with open(os.path.join(root, "blob"), "wb") as f:
            f.write(body)
        http_port = harness.free_port()
        httpd = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1", str(http_port),
                                  "--directory", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (httpd.kill(), httpd.wait()))
        wait_listening(("127.0.0.1", http_port))
        port = harness.free_port()
        server = self.start({"web": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{http_port}")})
        mark = server.log_mark()
        with connect(("127.0.0.1", port)) as s:
            s.sendall(b"GET /blob HTTP/1.0\r\nHost: x\r\n\r\n")
            reply = recv_until_eof(s, timeout=20)
        head, _, got = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.0 200"), head[:100])
        self.assertEqual(len(got), len(body))
        self.assertEqual(got, body)
        line = server.wait_for(r"\bconn service=web\b", start=mark)
        self.assertIn(f"upstream=127.0.0.1:{http_port}", line)
        # While one is open, `ctl connections` names its upstream too.
        with connect(("127.0.0.1", port)) as s:
            s.sendall(b"GET /blob HTTP/1.0\r\n")  # the request is not finished: it stays open
            deadline = time.monotonic() + 5
            while True:
                rc, j = harness.ctl_json(self.control, "connections")
                if j.get("connections") or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual([c["upstream"] for c in j["connections"]], [f"127.0.0.1:{http_port}"])
            r = harness.ctl(self.control, "connections")
            self.assertRegex(r.stdout, r"(?m)^ *\d+ +web +127\.0\.0\.1:\d+ .* 127\.0\.0\.1:%d *$" % http_port)
        out = int(re.search(r"\bout=(\d+)", line).group(1))
        self.assertEqual(out, len(reply))

    def test_chain_of_two_switchboards_moves_4mib_each_way_with_half_close(self):
        echo_port, hop_port, front_port = harness.free_port(), harness.free_port(), harness.free_port()
        # client -> front (redirect, a name) -> hop (redirect) -> echo: two
        # switchboards, each forwarding.
        back = Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{echo_port}"]),
                                   "hop": redirect_service(f"tcp://127.0.0.1:{hop_port}",
                                                           f"tcp://127.0.0.1:{echo_port}")}))
        self.addCleanup(back.__exit__)
        back.start()
        front = self.start({"front": redirect_service(f"tcp://127.0.0.1:{front_port}",
                                                      f"tcp://localhost:{hop_port}")})
        payload = os.urandom(4 * 1024 * 1024)
        received = bytearray()
        with connect(("127.0.0.1", front_port), timeout=20) as s:
            def reader():
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        return
                    received.extend(chunk)
            t = threading.Thread(target=reader)
            t.start()
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)  # echo sees EOF only if it crossed the chain
            t.join(timeout=30)
            self.assertFalse(t.is_alive(), "the echoed stream did not end after our half-close")
        self.assertEqual(len(received), len(payload))
        self.assertEqual(bytes(received), payload)
        line = front.wait_for(r"\bconn service=front\b")
        self.assertIn(f"in={len(payload)}", line)
        self.assertIn(f"out={len(payload)}", line)
        self.assertIn(f"upstream=127.0.0.1:{hop_port}", line)
        hop = back.wait_for(r"\bconn service=hop\b")
        self.assertIn(f"in={len(payload)}", hop)

    def test_many_connections_at_once_keep_their_bytes_and_leak_no_fds(self):
        echo_port, port = harness.free_port(), harness.free_port()
        server = self.start({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{echo_port}"]),
                             "r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{echo_port}",
                                                   per_source=0)})
        before = harness.fd_count(server.pid)
        n, size = 40, 256 * 1024
        results = {}

        def client(i):
            payload = os.urandom(size)
            try:
                with connect(("127.0.0.1", port), timeout=20) as s:
                    t = threading.Thread(target=lambda: (s.sendall(payload), s.shutdown(socket.SHUT_WR)))
                    t.start()
                    got = recv_until_eof(s, timeout=30)
                    t.join(timeout=30)
                results[i] = got == payload
            except OSError as e:
                results[i] = repr(e)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual([results.get(i) for i in range(n)], [True] * n)
        deadline = time.monotonic() + 5
        while harness.fd_count(server.pid) > before + 32 and time.monotonic() < deadline:
            time.sleep(0.05)
        # What is left open is at most the pool's 16 idle pipes.
        self.assertLessEqual(harness.fd_count(server.pid), before + 32)

    def test_half_close_from_the_client_reaches_the_upstream(self):
        def count_then_answer(conn):
            data = read_to_eof(conn)
            conn.sendall(b"got %d bytes" % len(data))
            conn.close()
        up = self.upstream(count_then_answer)
        port = harness.free_port()
        self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{up.addr[1]}")})
        with connect(("127.0.0.1", port)) as s:
            s.sendall(b"x" * 100000)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"got 100000 bytes")

    def test_half_close_from_the_upstream_keeps_the_client_direction(self):
        got = []

        def greet_then_listen(conn):
            conn.sendall(b"hello, then EOF")
            conn.shutdown(socket.SHUT_WR)
            got.append(read_to_eof(conn))
            conn.close()
        up = self.upstream(greet_then_listen)
        port = harness.free_port()
        self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{up.addr[1]}")})
        with connect(("127.0.0.1", port)) as s:
            self.assertEqual(recv_until_eof(s), b"hello, then EOF")
            s.sendall(b"still talking after your EOF")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"")
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(got, [b"still talking after your EOF"])

    def test_source_address_is_used_for_upstream_connections(self):
        peers = []

        def note_peer(conn):
            peers.append(conn.getpeername()[0])
            conn.sendall(b"ok")
            conn.close()
        up = self.upstream(note_peer)
        port = harness.free_port()
        self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{up.addr[1]}",
                                          redirect={"source": "127.0.0.5"})})
        with connect(("127.0.0.1", port)) as s:
            self.assertEqual(recv_until_eof(s), b"ok")
        self.assertEqual(peers, ["127.0.0.5"])

    def test_unix_client_to_unix_upstream(self):
        d = tempfile.mkdtemp(prefix="sb-fwd-")
        self.addCleanup(shutil.rmtree, d, True)
        def reverse(conn):
            conn.sendall(read_to_eof(conn)[::-1])
            conn.shutdown(socket.SHUT_WR)
        up = self.upstream(reverse, family=socket.AF_UNIX,
                           path=os.path.join(d, "up.sock"))
        front = os.path.join(d, "front.sock")
        self.start({"r": redirect_service(f"unix:{front}", f"unix:{up.addr}")})
        with connect(front) as s:
            s.sendall(b"abcdef")
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"fedcba")

    # failures ----------------------------------------------------------------
    def test_refused_upstream_closes_the_client_and_is_counted(self):
        dead = harness.free_port()  # nothing listens there
        port = harness.free_port()
        server = self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{dead}")})
        self.assertEqual(metric(self.control, "switchboard_forward_failures_total", "r"), 0)
        mark = server.log_mark()
        with connect(("127.0.0.1", port)) as s:
            s.sendall(b"anyone?")
            self.assertTrue(closed_without_answer(s, timeout=5))
        line = server.wait_for(r"forward-failed service=r\b", start=mark)
        self.assertIn("Connection refused", line)
        self.assertEqual(metric(self.control, "switchboard_forward_failures_total", "r"), 1)
        rc, status = harness.ctl_json(self.control, "services")
        self.assertEqual(rc, 0)
        text = str(status)
        self.assertIn("forward_failures", text)

    def test_name_that_does_not_resolve_closes_the_client_and_is_counted(self):
        port = harness.free_port()
        server = self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", "tcp://no-such-host.invalid:80")})
        mark = server.log_mark()
        with connect(("127.0.0.1", port)) as s:
            self.assertTrue(closed_without_answer(s, timeout=15))
        line = server.wait_for(r"forward-failed service=r\b", start=mark, timeout=15)
        self.assertIn("cannot resolve no-such-host.invalid", line)
        self.assertEqual(metric(self.control, "switchboard_forward_failures_total", "r"), 1)

    def test_unanswered_connect_times_out_and_is_counted(self):
        # A listener whose accept queue is full drops further SYNs: the
        # connect neither succeeds nor fails until connect_timeout.
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        self.addCleanup(full.close)
        fillers = []
        self.addCleanup(lambda: [f.close() for f in fillers])
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(full.getsockname())
            fillers.append(f)
        time.sleep(0.2)
        port = harness.free_port()
        server = self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}",
                                                   f"tcp://127.0.0.1:{full.getsockname()[1]}",
                                                   redirect={"connect_timeout": "300ms"})})
        mark = server.log_mark()
        t0 = time.monotonic()
        with connect(("127.0.0.1", port)) as s:
            self.assertTrue(closed_without_answer(s, timeout=10))
        elapsed = time.monotonic() - t0
        line = server.wait_for(r"forward-failed service=r\b", start=mark)
        self.assertIn("no answer within 300ms", line)
        print(f"\n  unanswered upstream: client closed after {elapsed:.2f}s (connect_timeout 300ms)")

    # timeouts and what a connection holds ------------------------------------
    def test_idle_forwarded_connection_is_closed(self):
        up = self.upstream(lambda c: read_to_eof(c))
        port = harness.free_port()
        server = self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{up.addr[1]}",
                                                   timeouts={"idle": "1s"})})
        mark = server.log_mark()
        with connect(("127.0.0.1", port)) as s:
            self.assertEqual(recv_until_eof(s, timeout=10), b"")
        line = server.wait_for(r"\bconn service=r\b", start=mark)
        self.assertIn("reason=idle", line)

    def test_max_duration_ends_a_busy_forwarded_connection(self):
        up = self.upstream(lambda c: [c.sendall(c.recv(100)) for _ in range(1000)])
        port = harness.free_port()
        server = self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{up.addr[1]}",
                                                   timeouts={"max_duration": "1s", "idle": "30s"})})
        mark = server.log_mark()
        with connect(("127.0.0.1", port)) as s:
            ended = False
            for _ in range(100):  # busy, never idle: about 5 s of pings at most
                try:
                    s.sendall(b"ping")
                    if recv_exactly(s, 4, timeout=5) != b"ping":
                        ended = True
                        break
                except OSError:
                    ended = True
                    break
                time.sleep(0.05)
            self.assertTrue(ended, "still forwarding after max_duration")
        self.assertIn("reason=max_duration", server.wait_for(r"\bconn service=r\b", start=mark))

    def test_idle_forwarded_connections_hold_no_pipes(self):
        up = self.upstream(lambda c: c.sendall(c.recv(100)) or read_to_eof(c))
        port = harness.free_port()
        server = self.start({"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{up.addr[1]}",
                                                   per_source=0)})
        before = harness.fd_count(server.pid)
        rss_before = harness.rss_kib(server.pid)
        n = 60
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(n):
            s = connect(("127.0.0.1", port))
            s.sendall(b"ping")
            self.assertEqual(recv_exactly(s, 4), b"ping")  # bytes went both ways, through pipes
            socks.append(s)
        time.sleep(0.3)
        grown = harness.fd_count(server.pid) - before
        rss = harness.rss_kib(server.pid) - rss_before
        print(f"\n  {n} idle forwarded connections: +{grown} fds ({grown / n:.2f} each), "
              f"RSS +{rss} KiB ({rss / n:.2f} KiB each, page-granular)")
        # Two sockets each, plus at most the pool's 16 idle pipes (32 fds);
        # a connection keeping its two pipes would hold six.
        self.assertLessEqual(grown, 2 * n + 32)

    def test_removed_service_drains_its_forwarded_connections(self):
        up = self.upstream(lambda c: [c.sendall(c.recv(100)) for _ in range(2)])
        port = harness.free_port()
        services = {"r": redirect_service(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{up.addr[1]}"),
                    "other": builtin_service("echo", [f"tcp://127.0.0.1:{harness.free_port()}"])}
        server = self.start(services)
        with connect(("127.0.0.1", port)) as s:
            s.sendall(b"one")
            self.assertEqual(recv_exactly(s, 3), b"one")
            cfg = base_config({"other": services["other"]})
            cfg["control"] = {"socket": self.control}
            server.write_config(cfg)
            r = harness.ctl(self.control, "reload")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            s.sendall(b"two")
            self.assertEqual(recv_exactly(s, 3), b"two")
        with self.assertRaises(OSError):
            connect(("127.0.0.1", port), timeout=1).close()


class ProxyProtocolOutTests(unittest.TestCase):
    """redirect's outgoing PROXY header, read by haproxy and by hand."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sb-haproxy-")
        cls.haproxy_port = harness.free_port()
        cls.haproxy = start_haproxy(cls.tmp, "http", cls.haproxy_port, f"""frontend who
  bind 127.0.0.1:{cls.haproxy_port} accept-proxy
  http-request return status 200 content-type text/plain lf-string "%[src] %[src_port]\\n"
""")
        cls.v1_port, cls.v2_port, cls.v6_port = harness.free_port(), harness.free_port(), harness.free_port("::1")
        cls.unix_path = os.path.join(cls.tmp, "front.sock")
        target = f"tcp://127.0.0.1:{cls.haproxy_port}"
        cls.server = Server(base_config({
            "v1": redirect_service(f"tcp://127.0.0.1:{cls.v1_port}", target, redirect={"proxy_protocol": "v1"}),
            "v2": redirect_service([f"tcp://127.0.0.1:{cls.v2_port}", f"tcp://[::1]:{cls.v6_port}"], target,
                                   redirect={"proxy_protocol": "v2"}),
        })).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.haproxy.kill()
        cls.haproxy.wait()
        shutil.rmtree(cls.tmp, True)

    def who_am_i(self, addr, source=None):
        if source:
            s = harness.connect_from(addr, source)
        else:
            s = connect(addr)
        with s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reply = recv_until_eof(s)
            local = s.getsockname()
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), reply[:200])
        host, port = body.decode().split()
        return host, int(port), local

    def test_v2_ipv4_client_seen_by_haproxy(self):
        host, port, local = self.who_am_i(("127.0.0.1", self.v2_port), source="127.0.0.9")
        self.assertEqual((host, port), ("127.0.0.9", local[1]))

    def test_v2_ipv6_client_seen_by_haproxy(self):
        host, port, local = self.who_am_i(("::1", self.v6_port))
        self.assertEqual((host, port), ("::1", local[1]))

    def test_v1_ipv4_client_seen_by_haproxy(self):
        host, port, local = self.who_am_i(("127.0.0.1", self.v1_port), source="127.0.0.7")
        self.assertEqual((host, port), ("127.0.0.7", local[1]))


class ProxyProtocolBytesTests(unittest.TestCase):
    """The header bytes, read by a plain listener: v1 text, and the v2
    family switchboard picks for UNIX clients (haproxy 2.6 refuses those)."""

    def header_for(self, version, client_listen, client_connect, size=None):
        """What the upstream reads first: `size` bytes, or a line."""
        heard = []

        def grab(conn):
            if size is not None:
                heard.append(recv_exactly(conn, size, timeout=5))
                return
            line = b""
            while not line.endswith(b"\r\n") and len(line) < 200:
                c = conn.recv(1)
                if not c:
                    break
                line += c
            heard.append(line)
        up = Upstream(grab)
        self.addCleanup(up.close)
        server = Server(base_config({"r": redirect_service(client_listen, f"tcp://127.0.0.1:{up.addr[1]}",
                                                           redirect={"proxy_protocol": version})}))
        self.addCleanup(server.__exit__)
        server.start()
        with connect(client_connect) as s:
            local = s.getsockname()
            deadline = time.monotonic() + 5
            while not heard and time.monotonic() < deadline:
                time.sleep(0.02)
        self.assertTrue(heard, "the upstream heard nothing")
        return heard[0], local

    def test_v1_text_for_ipv4(self):
        port = harness.free_port()
        header, local = self.header_for("v1", f"tcp://127.0.0.1:{port}", ("127.0.0.1", port))
        expected = f"PROXY TCP4 127.0.0.1 127.0.0.1 {local[1]} {port}\r\n".encode()
        self.assertEqual(header, expected)

    def test_v1_unknown_for_unix_clients(self):
        path = os.path.join(tempfile.mkdtemp(prefix="sb-pp-"), "front.sock")
        header, _ = self.header_for("v1", f"unix:{path}", path)
        self.assertEqual(header, b"PROXY UNKNOWN\r\n")

    def test_v2_unix_family_for_unix_clients(self):
        path = os.path.join(tempfile.mkdtemp(prefix="sb-pp-"), "front.sock")
        header, _ = self.header_for("v2", f"unix:{path}", path, 16 + 216)
        self.assertEqual(header[:12], V2_SIGNATURE)
        self.assertEqual(header[12:16], b"\x21\x31" + struct.pack("!H", 216))
        dst = header[16 + 108:16 + 216].rstrip(b"\0")
        self.assertEqual(dst.decode(), path)


PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


def v2_header(src, dst, sport, dport, command=1, tlvs=b""):
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    fam = 0x21 if family == socket.AF_INET6 else 0x11
    body = (socket.inet_pton(family, src) + socket.inet_pton(family, dst) + struct.pack("!HH", sport, dport) + tlvs)
    return V2_SIGNATURE + bytes([0x20 | command, fam]) + struct.pack("!H", len(body)) + body


class ProxyProtocolInTests(unittest.TestCase):
    """Services behind a balancer: "proxy_protocol": {"trusted": [...]}."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sb-ppin-")
        cls.control = harness.control_socket_path()
        cls.ports = {n: harness.free_port() for n in ("echo", "line", "line_socket", "untrusted", "deny", "fwd")}
        cls.header_sink = Upstream(cls._grab_line)
        cls.heard = []
        trusted = {"trusted": ["127.0.0.1/32", "::1"], "timeout": "500ms"}
        line = os.path.join(PROGRAMS, "client_line.sh")
        services = {
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{cls.ports['echo']}"], proxy_protocol=trusted),
            "line": {"listen": f"tcp://127.0.0.1:{cls.ports['line']}", "exec": {"argv": [line]},
                     "proxy_protocol": trusted},
            "line_socket": {"listen": f"tcp://127.0.0.1:{cls.ports['line_socket']}",
                            "exec": {"argv": [line], "io": "socket"}, "proxy_protocol": trusted},
            "untrusted": builtin_service("echo", [f"tcp://127.0.0.1:{cls.ports['untrusted']}"],
                                         proxy_protocol={"trusted": ["192.0.2.1"]}),
            "deny": builtin_service("echo", [f"tcp://127.0.0.1:{cls.ports['deny']}"], proxy_protocol=trusted,
                                    deny=["203.0.113.0/24"]),
            "fwd": redirect_service(f"tcp://127.0.0.1:{cls.ports['fwd']}", f"tcp://127.0.0.1:{cls.header_sink.addr[1]}",
                                    redirect={"proxy_protocol": "v1"}, proxy_protocol=trusted),
        }
        cfg = base_config(services)
        cfg["control"] = {"socket": cls.control}
        cls.server = Server(cfg).start()

    @classmethod
    def _grab_line(cls, conn):
        line = b""
        while not line.endswith(b"\r\n") and len(line) < 200:
            c = conn.recv(1)
            if not c:
                break
            line += c
        cls.heard.append(line)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.header_sink.close()
        shutil.rmtree(cls.tmp, True)

    def addr(self, name):
        return ("127.0.0.1", self.ports[name])

    def rejected(self, service, reason):
        rc, reply = harness.ctl_json(self.control, "services")
        for s in reply.get("services", reply if isinstance(reply, list) else []):
            if s.get("name") == service:
                return s["rejected_by"][reason]
        raise AssertionError(f"no service {service} in {reply}")

    def test_header_split_across_segments_then_payload_reaches_the_service_exactly(self):
        with connect(self.addr("echo")) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for b in b"PROXY TCP4 198.51.100.7 203.0.113.1 4711 7\r\n":
                s.send(bytes([b]))
                time.sleep(0.002)
            s.sendall(b"payload")
            self.assertEqual(recv_exactly(s, 7), b"payload")
        line = self.server.wait_for(r"\bconn service=echo peer=198\.51\.100\.7:4711\b")
        self.assertIn("in=7", line)

    def test_children_see_the_client_the_header_names(self):
        with connect(self.addr("line")) as s:
            s.sendall(v2_header("198.51.100.7", "203.0.113.1", 4711, 80) + b"hello\n")
            self.assertEqual(recv_until_eof(s), b"198.51.100.7 4711 203.0.113.1 80 hello\n")

    def test_io_socket_child_reads_exactly_after_the_header(self):
        tlvs = b"\xee\x00\x05hello" + b"\x01\x00\x02h2"  # unknown TLVs are skipped
        with connect(self.addr("line_socket")) as s:
            s.sendall(v2_header("2001:db8::7", "2001:db8::1", 4711, 80, tlvs=tlvs) + b"first line\n")
            self.assertEqual(recv_until_eof(s), b"2001:db8::7 4711 2001:db8::1 80 first line\n")

    def test_v2_local_keeps_the_real_addresses(self):
        with connect(self.addr("line")) as s:
            local = s.getsockname()
            s.sendall(V2_SIGNATURE + b"\x20\x00\x00\x00" + b"health\n")
            self.assertEqual(recv_until_eof(s), f"127.0.0.1 {local[1]} 127.0.0.1 {self.ports['line']} health\n".encode())

    def test_untrusted_peer_is_closed_and_counted(self):
        before = self.rejected("untrusted", "proxy_untrusted")
        with connect(self.addr("untrusted")) as s:
            s.sendall(b"PROXY TCP4 198.51.100.7 203.0.113.1 4711 7\r\nping")
            self.assertTrue(closed_without_answer(s))
        self.assertEqual(self.rejected("untrusted", "proxy_untrusted"), before + 1)

    def test_malformed_missing_or_incomplete_headers_are_closed_and_counted(self):
        before = self.rejected("echo", "proxy_header")
        cases = [b"PROXY TCP4 198.51.100.7 203.0.113.1 4711 99999\r\nping",  # malformed
                 b"GET / HTTP/1.0\r\n\r\n",                                    # no header: never guessed
                 b"PROXY TCP4 198.51.100.7 203.0"]                                # incomplete: the timeout
        for payload in cases:
            with connect(self.addr("echo")) as s:
                s.sendall(payload)
                t0 = time.monotonic()
                self.assertTrue(closed_without_answer(s), payload)
                waited = time.monotonic() - t0
        self.assertEqual(self.rejected("echo", "proxy_header"), before + len(cases))
        print(f"\n  incomplete header closed after {waited:.2f}s (timeout 500ms)")
        self.server.wait_for(r"proxy-header service=echo .*no complete PROXY header within 500ms")

    def test_admission_judges_the_client_the_header_names(self):
        with connect(self.addr("deny")) as s:
            s.sendall(v2_header("203.0.113.9", "127.0.0.1", 1, 2) + b"ping")
            self.assertTrue(closed_without_answer(s))
        with connect(self.addr("deny")) as s:
            s.sendall(v2_header("198.51.100.9", "127.0.0.1", 1, 2) + b"ping")
            self.assertEqual(recv_exactly(s, 4), b"ping")
        self.assertGreaterEqual(self.rejected("deny", "denied"), 1)

    def test_redirect_passes_the_header_client_on(self):
        with connect(self.addr("fwd")) as s:
            s.sendall(b"PROXY TCP4 198.51.100.7 203.0.113.1 4711 80\r\n")
            deadline = time.monotonic() + 5
            while not self.heard and time.monotonic() < deadline:
                time.sleep(0.02)
        self.assertEqual(self.heard, [b"PROXY TCP4 198.51.100.7 203.0.113.1 4711 80\r\n"])


class HaproxySendsProxyTests(unittest.TestCase):
    """haproxy (send-proxy-v2) in front of switchboard: the child sees the
    address haproxy's client connected from."""

    def test_haproxy_send_proxy_v2_to_an_exec_service(self):
        tmp = tempfile.mkdtemp(prefix="sb-haproxy-send-")
        self.addCleanup(shutil.rmtree, tmp, True)
        sb_port, front = harness.free_port(), harness.free_port()
        server = Server(base_config({"line": {
            "listen": f"tcp://127.0.0.1:{sb_port}", "exec": {"argv": [os.path.join(PROGRAMS, "client_line.sh")]},
            "proxy_protocol": {"trusted": ["127.0.0.1"]}}}))
        self.addCleanup(server.__exit__)
        server.start()
        haproxy = start_haproxy(tmp, "tcp", front, f"""frontend balancer
  bind 127.0.0.1:{front}
  default_backend hosts
backend hosts
  server sb 127.0.0.1:{sb_port} send-proxy-v2
""")
        self.addCleanup(lambda: (haproxy.kill(), haproxy.wait()))
        s = harness.connect_from(("127.0.0.1", front), "127.0.0.42")
        with s:
            port = s.getsockname()[1]
            s.sendall(b"through haproxy\n")
            reply = recv_until_eof(s).decode()
        self.assertEqual(reply, f"127.0.0.42 {port} 127.0.0.1 {front} through haproxy\n")
        # (wait_listening's probe went through haproxy too: its line comes first.)
        line = server.wait_for(r"\bconn service=line peer=127\.0\.0\.42:")
        self.assertIn(f"peer=127.0.0.42:{port}", line)


if __name__ == "__main__":
    harness.main()
