"""What a local user, a remote client or a child program must not get (README
"Security"): a second bind of a UDP service's address by another user; a
configuration that makes `check` use memory out of proportion to its size;
a log line forged or made invalid by a child's stderr; a raised fd limit
leaking into children; one source holding a built-in's connections
without bound, or holding an idle one forever."""
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import (Server, base_config, builtin_service, connect, connect_from, recv_exactly, recv_some,
                     recv_until_eof, run_cli, udp_request)

NOBODY = 65534


def wait_until(predicate, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(0.05)


def bind_udp_as(uid, addr):
    """Tries, as `uid` and with SO_REUSEADDR set, to bind a UDP socket to
    addr; returns "bound" or the error."""
    code = ("import os, socket, sys\n"
            "os.setgroups([]); os.setgid(%d); os.setuid(%d)\n"
            "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "try:\n"
            "    s.bind((%r, %d))\n"
            "    print('bound')\n"
            "except OSError as e:\n"
            "    print('error', e.errno)\n") % (uid, uid, addr[0], addr[1])
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    return (r.stdout + r.stderr).strip()


class UdpHijackTests(unittest.TestCase):
    def test_another_user_cannot_bind_a_udp_listener_address(self):
        port = harness.free_port()
        addr = ("127.0.0.1", port)
        control = harness.control_socket_path()
        server = Server(base_config({"echo": builtin_service("echo", [f"udp://127.0.0.1:{port}"],
                                                             allow_reflection=True)},
                                    control={"socket": control})).start()
        self.addCleanup(server.__exit__)
        self.assertEqual(udp_request(addr, b"hi"), b"hi")
        self.assertEqual(bind_udp_as(NOBODY, addr), "error 98")  # EADDRINUSE
        # A reload keeps the listener (the same socket) and it keeps working.
        code, reply = harness.ctl_json(control, "reload")
        self.assertEqual(code, 0, reply)
        self.assertEqual(udp_request(addr, b"again"), b"again")
        self.assertEqual(bind_udp_as(NOBODY, addr), "error 98")
        self.assertEqual(server.stop(), 0)
        # Once the server is gone the address is free for anyone: the test
        # above was about the server's socket, not about the port.
        self.assertEqual(bind_udp_as(NOBODY, addr), "bound")


def check_max_rss_kib(path):
    """Runs `switchboard check -c path` in a fresh python process and returns
    (exit code, output, the check's peak RSS in KiB)."""
    code = ("import resource, subprocess, sys\n"
            "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
            "sys.stderr.write(r.stdout + r.stderr)\n"
            "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    # Under AddressSanitizer, freed memory waits in a quarantine (256 MB by
    # default) that would count as the program's own.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""), "quarantine_size_mb=0"]))
    r = subprocess.run([sys.executable, "-c", code, harness.SWITCHBOARD, "check", "-c", path],
                       capture_output=True, text=True, timeout=120, env=env)
    rc, rss = r.stdout.split()
    return int(rc), r.stderr, int(rss)


class ConfigSizeTests(unittest.TestCase):
    # A memory budget, not a timing: before the position index stopped
    # copying the whole JSON pointer per value, the first file took 705 MB.
    # The defect took 517 MB and 1.5 GB; AddressSanitizer's shadow and
    # allocator add about 40 MB to a correct run.
    RSS_BUDGET_KIB = (160 if harness.sanitized() else 64) * 1024

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-size-")

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_a_long_key_over_a_large_array_checks_in_bounded_memory(self):
        key = "k" * 65536
        cases = {
            # An unknown top-level key holding 8,000 values: one error.
            "top.json": json.dumps({key: [0] * 8000}),
            # A service named by the long key whose 8,000 listen entries are
            # each wrong: an error per entry, every one under the long key.
            "service.json": json.dumps({"control": {"socket": ""},
                                        "services": {key: {"listen": [0] * 8000, "builtin": "echo"}}}),
        }
        for name, text in cases.items():
            with self.subTest(name):
                self.assertLess(len(text), 100 * 1024)
                rc, out, rss = check_max_rss_kib(self.write(name, text))
                self.assertEqual(rc, 2, out[-2000:])
                self.assertLess(rss, self.RSS_BUDGET_KIB, f"check of {name} peaked at {rss} KiB")
                self.assertLess(len(out), 8 * 1024 * 1024)
        _, out, _ = check_max_rss_kib(self.write("again.json", cases["service.json"]))
        self.assertIn("more errors not shown (at most 1000 are listed)", out)

    def test_an_oversized_configuration_is_one_clear_error(self):
        cfg = json.dumps(base_config({}))
        path = self.write("big.json", cfg + " " * (16 * 1024 * 1024 + 1 - len(cfg)))
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"{path}: cannot read the configuration: it is larger than 16777216 bytes, "
                      "the most a configuration file may hold (16 MiB)", r.stdout + r.stderr)
        # One byte less is fine.
        with open(path, "r+") as f:
            f.truncate(16 * 1024 * 1024)
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


# The child writes invalid UTF-8, a line that looks like a log line of its
# own, terminal escape sequences (7-bit and the 8-bit CSI) and a CR.
NOISY_STDERR = (r"printf 'bad \377\376 bytes\n\nconn service=x peer=6.6.6.6:1 duration=0.001 reason=eof\n"
                r"esc \033[2J\033]0;title\007 and \302\233" "31m c1\\n"
                r"cr\rconn service=y\n' >&2; echo done")


class LogForgeryTests(unittest.TestCase):
    def run_noisy_child(self, fmt):
        """Runs a server logging in `fmt` to a file, lets the noisy child
        run once, and returns the raw bytes of the log."""
        port = harness.free_port()
        tmp = tempfile.mkdtemp(prefix="sb-log-")
        cfg_path = os.path.join(tmp, "switchboard.json")
        log_path = os.path.join(tmp, "log")
        cfg = base_config({"noisy": {"listen": [f"tcp://127.0.0.1:{port}"],
                                     "exec": {"argv": ["/bin/sh", "-c", NOISY_STDERR]}}},
                          log={"format": fmt, "level": "info", "file": log_path})
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        proc = subprocess.Popen([harness.SWITCHBOARD, "run", "-c", cfg_path], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def log_has(pattern):
                with open(log_path, "rb") as f:
                    return re.search(pattern, f.read()) is not None
            wait_until(lambda: os.path.exists(log_path) and log_has(rb"ready"), what="ready")
            s = connect(("127.0.0.1", port))
            self.assertEqual(recv_until_eof(s), b"done\n")
            s.close()
            wait_until(lambda: log_has(rb"conn.*noisy"), what="the connection's log line")
            wait_until(lambda: log_has(rb"cr\\rconn service=y"), what="the child's last stderr line")
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=15), 0)
        with open(log_path, "rb") as f:
            return f.read()

    def test_json_log_lines_are_valid_json_in_valid_utf8(self):
        raw = self.run_noisy_child("json")
        self.assertTrue(raw.endswith(b"\n"))
        events = []
        for line in raw.split(b"\n")[:-1]:
            text = line.decode("utf-8", "strict")  # raises on invalid UTF-8
            self.assertIsNone(re.search(r"[\x00-\x1f\x7f]", text), text)
            events.append(json.loads(text))
        conns = [e for e in events if e["event"] == "conn"]
        self.assertEqual([e["service"] for e in conns], ["noisy"], events)
        lines = [e["line"] for e in events if e["event"] == "stderr"]
        self.assertIn("bad \ufffd\ufffd bytes", lines)
        self.assertIn("conn service=x peer=6.6.6.6:1 duration=0.001 reason=eof", lines)
        self.assertIn("esc \x1b[2J\x1b]0;title\x07 and \x9b31m c1", lines)
        self.assertIn("cr\rconn service=y", lines)

    def test_text_log_lines_cannot_be_forged(self):
        raw = self.run_noisy_child("text")
        text = raw.decode("utf-8", "strict")
        self.assertIsNone(re.search(r"[\x00-\x09\x0b-\x1f\x7f\x80-\x9f]", text), repr(text))
        for line in text.split("\n")[:-1]:
            # Every line is one of the server's: timestamp, level, event.
            self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warning|error) [a-z-]+( |$)")
        self.assertEqual(len(re.findall(r"^\S+ \S+ conn ", text, re.M)), 1, text)
        self.assertIn('line="conn service=x peer=6.6.6.6:1 duration=0.001 reason=eof"', text)
        self.assertIn('line="cr\\rconn service=y"', text)
        self.assertIn('line="esc \\u001b[2J\\u001b]0;title\\u0007 and \\u009b31m c1"', text)
        self.assertIn('line="bad \ufffd\ufffd bytes"', text)


class ChildFdLimitTests(unittest.TestCase):
    def start_with_low_soft_limit(self, soft, exec_extra=None):
        port = harness.free_port()
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        hard = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536

        def low_soft():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        exec_cfg = {"argv": ["/bin/sh", "-c", "ulimit -Sn; ulimit -Hn"], **(exec_extra or {})}
        server = Server(base_config({"limit": {"listen": [f"tcp://127.0.0.1:{port}"], "exec": exec_cfg}}),
                        preexec_fn=low_soft)
        self.addCleanup(server.__exit__)
        ready = server.start().wait_for(r"\bready\b")
        self.assertIn(f"fd_limit={hard}", ready)  # the server itself raised its soft limit
        s = connect(("127.0.0.1", port))
        out = recv_until_eof(s).decode().split()
        s.close()
        self.assertEqual(server.stop(), 0)
        return out, hard

    def test_children_get_the_soft_limit_the_server_started_with(self):
        out, hard = self.start_with_low_soft_limit(300)
        self.assertEqual(out, ["300", str(hard)])

    def test_rlimits_nofile_wins(self):
        out, _ = self.start_with_low_soft_limit(300, {"rlimits": {"nofile": 700}})
        self.assertEqual(out, ["700", "700"])


class DefaultLimitTests(unittest.TestCase):
    def test_one_source_holds_at_most_the_default_per_source(self):
        harness.raise_own_fd_limit()
        port = harness.free_port()
        addr = ("127.0.0.1", port)
        server = Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"],
                                                             banner="hi\n", banner_fail="busy\n")})).start()
        self.addCleanup(server.__exit__)
        held = []
        self.addCleanup(lambda: [s.close() for s in held])
        for _ in range(40):
            s = connect_from(addr, "127.0.0.7")
            self.assertEqual(recv_exactly(s, 3, timeout=5), b"hi\n")
            held.append(s)
        extra = connect_from(addr, "127.0.0.7")
        held.append(extra)
        self.assertEqual(recv_exactly(extra, 5, timeout=5), b"busy\n")
        self.assertEqual(recv_some(extra, 1, timeout=5), b"")  # then closed
        other = connect_from(addr, "127.0.0.8")
        held.append(other)
        self.assertEqual(recv_exactly(other, 3, timeout=5), b"hi\n")
        other.sendall(b"ping")
        self.assertEqual(recv_exactly(other, 4, timeout=5), b"ping")
        server.wait_for(r"\breject\b.*peer=127\.0\.0\.7:\d+.*reason=per_source")
        self.assertEqual(server.stop(), 0)

    def test_an_idle_builtin_connection_is_closed_by_the_default_idle_timeout(self):
        port = harness.free_port()
        # The built-in default is minutes (a unit test checks it is what the
        # README says); "defaults" shortens it here, and a service without
        # a timeout of its own gets it.
        server = Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])},
                                    defaults={"timeouts": {"idle": "500ms"}})).start()
        self.addCleanup(server.__exit__)
        s = connect(("127.0.0.1", port))
        s.sendall(b"ping")
        self.assertEqual(recv_exactly(s, 4), b"ping")
        self.assertEqual(recv_some(s, 1, timeout=10), b"")  # closed by the server
        s.close()
        server.wait_for(r"\bconn\b.*service=echo.*reason=idle")
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
