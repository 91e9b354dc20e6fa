"""The first hour of a new administrator: `check` shows what would run and
`check --offline` validates the shipped examples on any machine; `ctl`
finds the control socket by itself; `probe` talks to services without nc;
the README's "try it" commands work against the development config."""
import json
import os
import re
import shlex
import socket
import subprocess
import tempfile
import threading
import unittest

import harness
from harness import Server, base_config, builtin_service, run_cli

EXAMPLES = os.path.join(harness.SOURCE_ROOT, "config", "examples")


def write(tmp, name, content):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


def main_configs():
    """Every example a user would pass to -c: the JSON files of
    config/examples/ but included service files and the monitoring files."""
    out = []
    for root, dirs, files in os.walk(EXAMPLES):
        dirs[:] = [d for d in dirs if d not in ("services.d", "monitoring")]
        out += [os.path.join(root, f) for f in files if f.endswith(".json")]
    return sorted(out)


def cli_env(**extra):
    env = dict(os.environ)
    env.pop("SWITCHBOARD_CONFIG", None)
    env.update(extra)
    return env


def probe(*args, input=b"", env=None, timeout=20):
    return subprocess.run([harness.SWITCHBOARD, "probe"] + list(args), input=input, capture_output=True,
                          timeout=timeout, env=env)


class CheckTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sb-hour-")

    def test_check_prints_what_would_run(self):
        path = write(self.tmp, "c.json", base_config({
            "echo": builtin_service("echo", ["tcp://127.0.0.1:7007", "udp://127.0.0.1:7007"], per_source=4,
                                    rate={"per_second": 20, "burst": 40}),
            "sh": {"listen": "tcp://127.0.0.1:7008", "exec": {"argv": ["/bin/cat"]}},
        }, metrics={"listen": "tcp://127.0.0.1:9120"}))
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r": ok, 2 services, 3 listeners, 1 file$")
        self.assertEqual(lines[1].split(), ["SERVICE", "KIND", "MAX_CONN", "PER_SOURCE", "RATE", "MAX_CHILDREN",
                                            "LISTEN"])
        self.assertEqual(lines[2].split(), ["echo", "builtin", "echo", "-", "4", "20/s", "tcp://127.0.0.1:7007",
                                            "udp://127.0.0.1:7007"])
        # exec services get the documented finite default.
        self.assertEqual(lines[3].split(), ["sh", "exec", "/bin/cat", "256", "40", "-", "256",
                                            "tcp://127.0.0.1:7008"])
        self.assertIn("limits: max_connections -, max_children 1024", r.stdout)
        self.assertIn("metrics: http://127.0.0.1:9120/metrics", r.stdout)

    def test_every_example_passes_check_offline(self):
        configs = main_configs()
        self.assertGreaterEqual(len(configs), 7, configs)
        for path in configs:
            with self.subTest(path=os.path.relpath(path, EXAMPLES)):
                r = run_cli("check", "--offline", "-c", path)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("ok (offline", r.stdout)

    def test_offline_skips_users_and_programs_but_not_syntax_or_addresses(self):
        host_bound = write(self.tmp, "host.json", base_config({
            "git": {"listen": "tcp://127.0.0.1:9418",
                    "exec": {"argv": ["/nonexistent/git-daemon"], "user": "no-such-user-sb", "cwd": "/nonexistent"},
                    "banner": {"file": "no-such-banner.txt"}},
        }))
        r = run_cli("check", "-c", host_bound)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown user \"no-such-user-sb\"", r.stderr)
        r = run_cli("check", "--offline", "-c", host_bound)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("exec /nonexistent/git-daemon as no-such-user-sb", r.stdout)

        bad = write(self.tmp, "bad.json", """{
  "services": {
    "a": { "listen": ["tcp://127.0.0.1:70000"], "builtin": "echo" },
    "b": { "listen": ["tcp://127.0.0.1:7001"], "builtin": "echo" },
    "c": { "listen": ["tcp://*:7001"], "builtin": "echo", "max_connections": "many" }
  }
}
""")
        r = run_cli("check", "--offline", "-c", bad)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, re.escape(bad) + r":3:\d+: /services/a/listen/0: .*70000")
        self.assertRegex(r.stderr, r"/services/c/listen/0: tcp://\*:7001 of service \"c\" conflicts with")
        self.assertRegex(r.stderr, r"/services/c/max_connections: ")
        broken = write(self.tmp, "broken.json", '{\n  "services": {\n    "a": ,\n  }\n}\n')
        r = run_cli("check", "--offline", "-c", broken)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, re.escape(broken) + r":3:\d+:")

    def test_offline_is_only_an_option_of_check(self):
        r = run_cli("run", "--offline", "-c", os.path.join(self.tmp, "x.json"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown argument '--offline'", r.stderr)


class CtlDiscoveryTests(unittest.TestCase):
    def start_server(self):
        sock = harness.control_socket_path()
        port = harness.free_port()
        server = Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])},
                                    control={"socket": sock}))
        self.addCleanup(server.stop)
        server.start()
        return server, sock

    def ctl(self, *args, env=None):
        return subprocess.run([harness.SWITCHBOARD, "ctl"] + list(args), capture_output=True, text=True,
                              timeout=20, env=env or cli_env())

    def test_ctl_reads_the_socket_from_c_and_from_the_default_config(self):
        server, sock = self.start_server()
        r = self.ctl("-c", server.path, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("version", r.stdout)
        # No -s, no -c: the default configuration file names the socket.
        r = self.ctl("status", env=cli_env(SWITCHBOARD_CONFIG=server.path))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"pid\s+%d\b" % server.pid)

    def test_ctl_falls_back_to_the_default_socket(self):
        tmp = tempfile.mkdtemp(prefix="sb-hour-")
        for name, content in (("missing.json", None), ("broken.json", "{ nope")):
            path = os.path.join(tmp, name)
            if content is not None:
                write(tmp, name, content)
            r = self.ctl("status", env=cli_env(SWITCHBOARD_CONFIG=path))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("cannot connect to the control socket /run/switchboard/control.sock (from the default)",
                          r.stderr)
        # A default file that loads but has no control socket: also the default.
        none = write(tmp, "none.json", {"control": {"socket": ""}})
        r = self.ctl("status", env=cli_env(SWITCHBOARD_CONFIG=none))
        self.assertIn("(from the default)", r.stderr)

    def test_ctl_c_with_an_unreadable_file_is_a_usage_error(self):
        tmp = tempfile.mkdtemp(prefix="sb-hour-")
        r = self.ctl("-c", os.path.join(tmp, "nope.json"), "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read the control socket from", r.stderr)


class ProbeTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sb-probe-")
        cls.port = harness.free_port()
        cls.chargen_port = harness.free_port()
        cls.unix = os.path.join(cls.tmp, "echo.sock")
        cls.server = Server(base_config({
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{cls.port}", f"udp://127.0.0.1:{cls.port}",
                                             f"tcp://[::1]:{cls.port}"]),
            "echo-unix": builtin_service("echo", [f"unix:{cls.unix}"]),
            "echo-abstract": builtin_service("echo", [f"unix:@sb-probe-{cls.port}"]),
            "chargen": builtin_service("chargen", [f"tcp://127.0.0.1:{cls.chargen_port}"]),
        }))
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_stream_addresses_send_stdin_and_print_the_answer(self):
        for address in (f"tcp://127.0.0.1:{self.port}", f"tcp://[::1]:{self.port}", f"unix:{self.unix}",
                        f"unix:@sb-probe-{self.port}"):
            with self.subTest(address=address):
                r = probe(address, input=b"hello\r\n")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stdout, b"hello\r\n")

    def test_a_closed_stdin_counts_as_empty_input(self):
        # fd 0 closed (not /dev/null): poll reports POLLNVAL, which must end
        # the input, or the probe spins and the echo never sees EOF.
        r = subprocess.run(["sh", "-c", 'exec 0<&-; exec "$0" probe -t 2 "$1"', harness.SWITCHBOARD,
                            f"tcp://127.0.0.1:{self.port}"], capture_output=True, timeout=10)
        self.assertEqual((r.returncode, r.stdout), (0, b""), r.stderr)

    def test_a_large_input_is_echoed_whole(self):
        payload = bytes(range(256)) * 8192  # 2 MiB: more than both socket buffers
        r = probe(f"tcp://127.0.0.1:{self.port}", input=payload)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, payload)

    def test_udp_is_one_datagram_and_one_answer(self):
        r = probe(f"udp://127.0.0.1:{self.port}", input=b"ping")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, b"ping")

    def test_max_bytes_ends_an_endless_answer(self):
        r = probe("-n", "74", f"tcp://127.0.0.1:{self.chargen_port}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout), 74)
        self.assertTrue(r.stdout.startswith(b" !\"#$%&") and r.stdout.endswith(b"\r\n"), r.stdout)

    def test_failures_exit_1(self):
        closed = harness.free_port()
        r = probe(f"tcp://127.0.0.1:{closed}")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"cannot connect: Connection refused", r.stderr)
        r = probe(f"unix:{os.path.join(self.tmp, 'nope.sock')}")
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"No such file or directory", r.stderr)

    def test_no_answer_times_out_with_1(self):
        # A listener that accepts and never says anything.
        with socket.socket() as mute:
            mute.bind(("127.0.0.1", 0))
            mute.listen(1)
            r = probe("-t", "0.3", "tcp://127.0.0.1:%d" % mute.getsockname()[1], input=b"x")
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"no answer within the timeout", r.stderr)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as deaf:
            deaf.bind(("127.0.0.1", 0))
            r = probe("-t", "0.3", "udp://127.0.0.1:%d" % deaf.getsockname()[1], input=b"x")
            self.assertEqual(r.returncode, 1)
            self.assertIn(b"no answer within the timeout", r.stderr)

    def test_usage_errors_exit_2(self):
        for args in ([], ["tcp://127.0.0.1"], ["tcp://*:7"], ["tcp://localhost:7"], ["-t", "0", "tcp://127.0.0.1:7"],
                     ["-n", "x", "tcp://127.0.0.1:7"], ["--bogus", "tcp://127.0.0.1:7"],
                     ["tcp://127.0.0.1:7", "tcp://127.0.0.1:8"]):
            with self.subTest(args=args):
                r = probe(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(b"usage: switchboard probe", r.stderr)


class ReadmeTryItTests(unittest.TestCase):
    """The README's "try it" block, run as written against the development
    config, with its ports and paths moved to free ones."""

    def test_readme_try_it_commands_work(self):
        with open(os.path.join(harness.SOURCE_ROOT, "README.md")) as f:
            readme = f.read()
        block = re.search(r"Try it:\n\n```sh\n(.*?)```", readme, re.S)
        self.assertIsNotNone(block, "no ```sh block after 'Try it:' in README.md")
        commands = [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]
        self.assertGreaterEqual(len(commands), 4)
        self.assertFalse([c for c in commands if re.search(r"\b(nc|telnet|socat)\b", c)], commands)

        with open(os.path.join(harness.SOURCE_ROOT, "config", "switchboard.json")) as f:
            text = f.read()
        tmp = tempfile.mkdtemp(prefix="sb-readme-")
        moves = {"/tmp/switchboard/": tmp + "/"}
        for port in sorted(set(re.findall(r"127\.0\.0\.1:(\d+)", text))):
            moves[":" + port] = ":%d" % harness.free_port()
        def moved(s):
            for old, new in moves.items():
                s = s.replace(old, new)
            return s
        server = Server(moved(text))
        self.addCleanup(server.stop)
        server.start()
        moves["config/switchboard.json"] = server.path
        moves["build/switchboard"] = harness.SWITCHBOARD
        for command in commands:
            with self.subTest(command=command):
                r = subprocess.run(["sh", "-c", moved(command)], capture_output=True, timeout=30,
                                   cwd=harness.SOURCE_ROOT, env=cli_env())
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(r.stdout, "no output from " + command)


class MakeRunTests(unittest.TestCase):
    def test_make_run_prints_the_ctl_command(self):
        makefile = os.path.join(harness.SOURCE_ROOT, "Makefile")
        r = subprocess.run(["make", "-s", "-n", "-f", makefile, "-C", harness.SOURCE_ROOT, "run"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"switchboard ctl -c \S+/config/switchboard\.json status")


if __name__ == "__main__":
    harness.main()
