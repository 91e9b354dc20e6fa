"""The command line: --version, --help, usage errors, `check` on good and
bad configurations, start-up failures that name their cause."""
import json
import os
import re
import socket
import tempfile
import unittest

import harness
from harness import Server, base_config, builtin_service, run_cli


def write(tmp, name, content):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


class CliTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sb-cli-")

    def test_version_and_help(self):
        r = run_cli("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^switchboard \d+\.\d+\.\d+")
        r = run_cli("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("switchboard run", r.stdout)
        self.assertIn("switchboard check", r.stdout)

    def test_unknown_arguments_give_usage_and_exit_2(self):
        for args in (["frobnicate"], ["run", "--bogus"], ["check", "-c"], []):
            r = run_cli(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage:", r.stderr)

    def test_check_accepts_the_development_config(self):
        r = run_cli("check", "-c", os.path.join(harness.SOURCE_ROOT, "config/switchboard.json"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok", r.stdout)

    def test_check_lists_every_error_with_position(self):
        path = write(self.tmp, "bad.json", """{
  "services": {
    "a": { "listen": ["tcp://127.0.0.1:70000"], "builtin": "echo" },
    "b": { "listen": ["tcp://127.0.0.1:7001"], "builtin": "echo", "max_conections": 3 },
    "c": { "listen": ["tcp://127.0.0.1:7002"], "builtin": "nonesuch" }
  }
}
""")
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 2)
        err = r.stderr
        self.assertRegex(err, re.escape(path) + r":3:\d+: /services/a/listen/0: .*70000")
        self.assertRegex(err, r"/services/b/max_conections: .*did you mean \"max_connections\"")
        self.assertRegex(err, r"/services/c/builtin: ")
        self.assertIn("3 errors", err)

    def test_check_malformed_json(self):
        path = write(self.tmp, "broken.json", '{\n  "services": {\n    "a": ,\n  }\n}\n')
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertRegex(r.stderr, re.escape(path) + r":3:\d+:")

    def test_check_missing_file(self):
        r = run_cli("check", "-c", os.path.join(self.tmp, "nope.json"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("nope.json", r.stderr)

    def test_run_refuses_an_invalid_config(self):
        path = write(self.tmp, "bad.json", {"services": {"x": {"builtin": "echo"}}})
        r = run_cli("run", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/services/x", r.stderr)

    def test_bind_failure_names_service_and_address(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            path = write(self.tmp, "busy.json", base_config({
                "blocked": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])}))
            r = run_cli("run", "-c", path)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("blocked", r.stderr)
        self.assertIn(f"tcp://127.0.0.1:{port}", r.stderr)
        self.assertIn("Address already in use", r.stderr)

    def test_startup_prints_the_service_table(self):
        port = harness.free_port()
        cfg = base_config({"hello": builtin_service("daytime", [f"tcp://127.0.0.1:{port}", f"udp://127.0.0.1:{port}"])})
        with Server(cfg) as server:
            server.start()
            server.wait_for(rf"^hello\s+tcp\s+tcp://127\.0\.0\.1:{port}\s+builtin daytime")
            server.wait_for(rf"^hello\s+udp\s+udp://127\.0\.0\.1:{port}\s+builtin daytime")
            self.assertEqual(server.stop(), 0)

    def test_stale_unix_socket_is_replaced_but_live_one_is_not(self):
        path = os.path.join(self.tmp, "s.sock")
        stale = socket.socket(socket.AF_UNIX)
        stale.bind(path)
        stale.close()  # the file stays; nothing listens
        cfg = base_config({"u": builtin_service("echo", [f"unix:{path}"])})
        with Server(cfg) as server:
            server.start()
            with harness.connect(path) as s:
                s.sendall(b"hi")
                self.assertEqual(harness.recv_exactly(s, 2), b"hi")
            # A second server on the same path must not steal it.
            r = run_cli("run", "-c", server.path)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("in use", r.stderr)
            self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(path))


if __name__ == "__main__":
    harness.main()
