"""`switchboard import`: inetd.conf and xinetd files become configurations
that `check` accepts, the same every time (golden files for the JSON and
the warnings), with --strict, -o/--force, and the imported built-ins served
for real over TCP and UDP.

Golden files live in tests/import/<case>/; run with SB_UPDATE_GOLDEN=1 to
rewrite them after a deliberate change (and read the diff)."""
import json
import os
import socket
import struct
import tempfile
import time
import unittest

import harness
from harness import Server, connect, recv_exactly, recv_until_eof, run_cli, udp_request

IMPORT_DIR = os.path.join(harness.SOURCE_ROOT, "tests", "import")
HERMETIC = ["--services", "services", "--hosts", "hosts"]

# case directory → the import command's arguments (run from tests/import).
CASES = {
    "inetd-openbsd": ["inetd", "inetd-openbsd/inetd.conf"],
    "inetd-inetutils": ["inetd", "inetd-inetutils/inetd.conf", "--dialect", "inetutils"],
    "xinetd-features": ["xinetd", "xinetd-features/xinetd.conf"],
    # What Debian's xinetd package installs (Makefile TEST_PACKAGES).
    "debian-xinetd": ["xinetd", "/etc/xinetd.conf"],
}

KINDS = ["echo", "discard", "chargen", "daytime", "time"]


def run_import(*args, cwd=IMPORT_DIR):
    import subprocess
    return subprocess.run([harness.SWITCHBOARD, "import"] + list(args), capture_output=True, text=True,
                          timeout=30, cwd=cwd)


class GoldenTests(unittest.TestCase):
    def check_case(self, case):
        if case == "debian-xinetd":
            self.assertTrue(os.path.isdir("/etc/xinetd.d"),
                            "/etc/xinetd.d is missing: install the xinetd package (make test-deps)")
        r = run_import(*CASES[case], *HERMETIC)
        self.assertEqual(r.returncode, 0, r.stderr)
        golden_json = os.path.join(IMPORT_DIR, case, "expected.json")
        golden_warnings = os.path.join(IMPORT_DIR, case, "expected.warnings")
        if os.environ.get("SB_UPDATE_GOLDEN"):
            with open(golden_json, "w") as f:
                f.write(r.stdout)
            with open(golden_warnings, "w") as f:
                f.write(r.stderr)
        with open(golden_json) as f:
            self.assertEqual(r.stdout, f.read(), f"{case}: the JSON differs from {golden_json}")
        with open(golden_warnings) as f:
            self.assertEqual(r.stderr, f.read(), f"{case}: the warnings differ from {golden_warnings}")
        # Sorted keys, so two imports diff line by line.
        config = json.loads(r.stdout)
        self.assertEqual(r.stdout, json.dumps(config, indent=2, sort_keys=True) + "\n")
        self.assertTrue(config["services"], f"{case}: no service imported")
        # What import writes, check accepts.
        out = os.path.join(tempfile.mkdtemp(prefix="sb-import-"), "switchboard.json")
        with open(out, "w") as f:
            f.write(r.stdout)
        c = run_cli("check", "-c", out)
        self.assertEqual(c.returncode, 0, f"{case}: check refused the import:\n{c.stderr}")
        return config, r.stderr

    def test_inetd_openbsd(self):
        config, warnings = self.check_case("inetd-openbsd")
        s = config["services"]
        self.assertEqual(s["echo"], {"builtin": "echo", "listen": ["tcp://*:7", "udp://*:7"]})
        self.assertEqual(s["rsync"]["exec"]["wait"], True)       # stream wait
        self.assertEqual(s["finger"]["rate"], {"per_second": 0.5, "burst": 30})  # nowait.30
        self.assertEqual(s["2121"]["exec"]["group"], "nogroup")   # user.group
        self.assertEqual(s["login"]["exec"]["argv"], ["/bin/cat", "-v"])  # continued line
        self.assertEqual(s["2204"]["listen"], ["tcp://127.0.0.4:2204"])  # "ADDR:" line
        self.assertEqual(s["2206"]["listen"], ["tcp://*:2206"])          # reset by "*:"
        # tcpmux/NAME lines join the tcpmux built-in, which gets the tcpmux port.
        self.assertEqual(s["date"]["tcpmux"], {"name": "date", "plus": True})
        self.assertEqual(s["phonebook"]["tcpmux"], "phonebook")
        self.assertNotIn("listen", s["phonebook"])
        self.assertEqual(s["tcpmux"], {"builtin": "tcpmux", "listen": ["tcp://*:1"]})

    def test_inetd_inetutils(self):
        config, _ = self.check_case("inetd-inetutils")
        s = config["services"]
        self.assertEqual(s["echo"]["listen"], ["tcp://0.0.0.0:7", "udp://0.0.0.0:7"])  # tcp is IPv4 only
        self.assertEqual(s["discard"]["socket"], {"v6only": False})                    # tcp6 takes both

    def test_xinetd_features(self):
        config, warnings = self.check_case("xinetd-features")
        s = config["services"]
        self.assertEqual(s["wrapped"]["enabled"], False)
        self.assertEqual(s["closed"]["deny"], ["0.0.0.0/0", "::/0"])
        self.assertEqual(s["ftp"]["rate"], {"per_second": 25, "burst": 25})
        self.assertNotIn("ignored", s)  # includedir skips names with a dot and backups
        self.assertRegex(warnings, r"xinetd-features/xinetd.d/ftp:\d+: warning: \"access_times\"")
        self.assertEqual(s["forward"]["redirect"], {"to": "tcp://192.0.2.10:23"})  # redirect = HOST PORT
        self.assertEqual(s["mux"]["tcpmux"], {"name": "mux", "plus": True})      # TCPMUXPLUS
        self.assertEqual(s["tcpmux"]["builtin"], "tcpmux")                        # INTERNAL tcpmux

    def test_debian_xinetd_package(self):
        config, _ = self.check_case("debian-xinetd")
        for kind in KINDS:
            self.assertEqual(config["services"][kind]["builtin"], kind)
            self.assertEqual(config["services"][kind]["enabled"], False)


class CommandTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sb-import-")

    def test_strict_fails_on_anything_unmapped(self):
        r = run_import(*CASES["inetd-openbsd"], *HERMETIC, "--strict")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stdout, "")
        self.assertRegex(r.stderr, r"inetd-openbsd/inetd.conf:\d+: error: internal service \"biff\" has no switchboard built-in")
        self.assertIn("(--strict); nothing written", r.stderr)

    def test_strict_passes_a_file_that_maps_entirely(self):
        path = os.path.join(self.tmp, "inetd.conf")
        with open(path, "w") as f:
            f.write("echo stream tcp nowait root internal\n")
        r = run_import("inetd", path, *HERMETIC, "--strict")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertEqual(json.loads(r.stdout)["services"]["echo"]["listen"], ["tcp://*:7"])

    def test_output_file_is_never_overwritten_without_force(self):
        out = os.path.join(self.tmp, "out.json")
        with open(out, "w") as f:
            f.write("precious")
        r = run_import(*CASES["inetd-openbsd"], *HERMETIC, "-o", out)
        self.assertEqual(r.returncode, 1)
        self.assertIn("exists; use --force", r.stderr)
        with open(out) as f:
            self.assertEqual(f.read(), "precious")
        r = run_import(*CASES["inetd-openbsd"], *HERMETIC, "-o", out, "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out) as f:
            self.assertIn('"services"', f.read())
        fresh = os.path.join(self.tmp, "fresh.json")
        r = run_import(*CASES["inetd-openbsd"], *HERMETIC, "-o", fresh)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(os.path.exists(fresh))

    def test_unreadable_input_and_usage_errors(self):
        r = run_import("inetd", os.path.join(self.tmp, "nope.conf"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("nope.conf", r.stderr)
        for args in ([], ["frobnicate"], ["inetd", "--bogus"], ["inetd", "--force"], ["xinetd", "--dialect", "openbsd"]):
            r = run_import(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage:", r.stderr)


class ServedTests(unittest.TestCase):
    """The built-ins of an imported inetd.conf and xinetd.conf, started with
    the real binary on 127.0.0.1 high ports and spoken to over TCP and UDP."""

    def serve(self, kind, text):
        tmp = tempfile.mkdtemp(prefix="sb-import-run-")
        path = os.path.join(tmp, "input.conf")
        with open(path, "w") as f:
            f.write(text)
        r = run_import(kind, path, "--services", "services", "--strict")
        self.assertEqual(r.returncode, 0, r.stderr)
        config = json.loads(r.stdout)
        config["control"] = {"socket": ""}
        server = Server(config).start()
        self.addCleanup(server.stop)
        return config

    @staticmethod
    def read_all(addr):
        with connect(addr) as s:
            return recv_until_eof(s)

    def talk_to_everything(self, ports):
        addr = lambda k: ("127.0.0.1", ports[k])
        with connect(addr("echo")) as s:
            s.sendall(b"hello\r\n")
            self.assertEqual(recv_exactly(s, 7), b"hello\r\n")
        self.assertEqual(udp_request(addr("echo"), b"ping"), b"ping")

        with connect(addr("discard")) as s:
            s.sendall(b"x" * 1000)
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:  # the UDP port is taken
            with self.assertRaises(OSError):
                u.bind(addr("discard"))

        with connect(addr("chargen")) as s:
            self.assertTrue(recv_exactly(s, 74).startswith(b" !\"#$%&"))
        self.assertTrue(udp_request(addr("chargen"), b""))

        for text in (self.read_all(addr("daytime")), udp_request(addr("daytime"), b"\n")):
            self.assertRegex(text, rb"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\r\n$")

        for raw in (self.read_all(addr("time")), udp_request(addr("time"), b"")):
            self.assertEqual(len(raw), 4)
            self.assertLess(abs(struct.unpack("!I", raw)[0] - (int(time.time()) + 2208988800) % (1 << 32)), 5)

    def test_inetd_builtins(self):
        ports = {k: harness.free_port() for k in KINDS}
        # inetd names a built-in by its service: a services file gives each its test port.
        services = os.path.join(tempfile.mkdtemp(prefix="sb-import-svc-"), "services")
        with open(services, "w") as f:
            for k, p in ports.items():
                f.write(f"{k} {p}/tcp\n{k} {p}/udp\n")
        conf = ["127.0.0.1:"] + [f"{k} {t} {proto} {w} root internal"
                                 for k in KINDS for (t, proto, w) in (("stream", "tcp", "nowait"),
                                                                      ("dgram", "udp", "wait"))]
        tmp = tempfile.mkdtemp(prefix="sb-import-run-")
        path = os.path.join(tmp, "inetd.conf")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        r = run_import("inetd", path, "--services", services, "--strict")
        self.assertEqual(r.returncode, 0, r.stderr)
        config = json.loads(r.stdout)
        for k, p in ports.items():
            self.assertEqual(config["services"][k],
                             {"builtin": k, "listen": [f"tcp://127.0.0.1:{p}", f"udp://127.0.0.1:{p}"]})
        config["control"] = {"socket": ""}
        server = Server(config).start()
        self.addCleanup(server.stop)
        self.talk_to_everything(ports)

    def test_xinetd_builtins(self):
        ports = {k: harness.free_port() for k in KINDS}
        sections = []
        for k, p in ports.items():
            for socket_type, wait in (("stream", "no"), ("dgram", "yes")):
                sections.append(f"service {k}\n{{\n\ttype = INTERNAL UNLISTED\n\tid = {k}-{socket_type}\n"
                                f"\tsocket_type = {socket_type}\n\twait = {wait}\n\tport = {p}\n"
                                f"\tbind = 127.0.0.1\n}}\n")
        config = self.serve("xinetd", "\n".join(sections))
        for k in KINDS:
            self.assertEqual(config["services"][k]["builtin"], k)
        self.talk_to_everything(ports)


if __name__ == "__main__":
    harness.main()
