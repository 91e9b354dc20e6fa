"""Installation as an administrator gets it: `meson install` into a DESTDIR
puts every file where README.md says and keeps an existing configuration;
the man pages are clean for mandoc and groff; the unit files pass
`systemd-analyze verify`. Tools the tests need are installed by the
Makefile (TEST_PACKAGES): a missing one fails the test."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import harness

BUILD_ROOT = os.environ.get("SB_BUILD_ROOT", os.path.join(harness.SOURCE_ROOT, "build"))


def require_tool(name):
    path = shutil.which(name)
    if path is None:
        raise AssertionError(f"{name} is not installed; `make test-deps` installs it (TEST_PACKAGES)")
    return path


def build_options():
    r = subprocess.run(["meson", "introspect", "--buildoptions", BUILD_ROOT], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return {o["name"]: o["value"] for o in json.loads(r.stdout)}


def expected_unit_dir(options):
    if options.get("systemdunitdir"):
        return options["systemdunitdir"]
    r = subprocess.run(["pkg-config", "--variable=systemdsystemunitdir", "systemd"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "/lib/systemd/system"


def systemd_version():
    r = subprocess.run(["systemd-analyze", "--version"], capture_output=True, text=True, timeout=30)
    m = re.match(r"systemd (\d+)", r.stdout)
    assert m, r.stdout
    return int(m.group(1))


class InstallTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.options = build_options()
        cls.destdir = tempfile.mkdtemp(prefix="sb-destdir-")
        cls.first = cls.install(cls.destdir)

    @classmethod
    def install(cls, destdir):
        env = dict(os.environ, DESTDIR=destdir)
        return subprocess.run(["meson", "install", "-C", BUILD_ROOT, "--no-rebuild", "--quiet"], env=env,
                              capture_output=True, text=True, timeout=300)

    def installed(self, option, *parts):
        """The absolute path of `option` (sbindir, ...) joined with parts."""
        return os.path.join(self.options["prefix"], self.options[option], *parts)

    def path(self, absolute):
        """Where `absolute` is inside the DESTDIR."""
        return os.path.join(self.destdir, absolute.lstrip("/"))

    def test_the_installed_file_list(self):
        self.assertEqual(self.first.returncode, 0, self.first.stdout + self.first.stderr)
        o = self.options
        prefix = o["prefix"]
        def under(option):
            return os.path.join(prefix, o[option])
        unitdir = expected_unit_dir(o)
        expected = {
            os.path.join(under("sbindir"), "switchboard"),
            os.path.join(under("datadir"), "switchboard", "switchboard.schema.json"),
            os.path.join(under("mandir"), "man8", "switchboard.8"),
            os.path.join(under("mandir"), "man5", "switchboard.json.5"),
            os.path.join(under("sysconfdir"), "switchboard", "switchboard.json"),
            os.path.join(unitdir, "switchboard.service"),
            os.path.join(unitdir, "switchboard.socket"),
        }
        if systemd_version() < 253:
            expected.add(os.path.join(unitdir, "switchboard.service.d", "notify-compat.conf"))
        examples = os.path.join(harness.SOURCE_ROOT, "config", "examples")
        for root, _, files in os.walk(examples):
            for f in files:
                rel = os.path.relpath(os.path.join(root, f), examples)
                expected.add(os.path.join(under("datadir"), "switchboard", "examples", rel))
        installed = set()
        for root, _, files in os.walk(self.destdir):
            for f in files:
                installed.add("/" + os.path.relpath(os.path.join(root, f), self.destdir))
        self.assertEqual(sorted(installed), sorted(expected))
        self.assertTrue(os.path.isdir(self.path(self.installed("sysconfdir", "switchboard", "services.d"))))
        self.assertEqual(under("sysconfdir"), "/etc")  # where the binary looks by default
        self.assertTrue(os.access(self.path(self.installed("sbindir", "switchboard")), os.X_OK))

    def test_the_installed_binary_accepts_the_installed_configuration(self):
        binary = self.path(self.installed("sbindir", "switchboard"))
        config = self.path(self.installed("sysconfdir", "switchboard", "switchboard.json"))
        r = subprocess.run([binary, "check", "-c", config], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok, 0 services", r.stdout)
        self.assertIn("control: /run/switchboard/control.sock", r.stdout)

    def test_the_unit_runs_the_installed_binary_on_the_installed_configuration(self):
        with open(self.path(os.path.join(expected_unit_dir(self.options), "switchboard.service"))) as f:
            unit = f.read()
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
        self.assertEqual(exec_start, "%s run -c %s" % (self.installed("sbindir", "switchboard"),
                                                       self.installed("sysconfdir", "switchboard", "switchboard.json")))
        self.assertNotIn("@", unit.replace("$MAINPID", ""))

    def test_an_existing_configuration_is_kept(self):
        destdir = tempfile.mkdtemp(prefix="sb-destdir-")
        config = os.path.join(destdir, self.installed("sysconfdir", "switchboard", "switchboard.json").lstrip("/"))
        os.makedirs(os.path.dirname(config))
        with open(config, "w") as f:
            f.write('{"services": {}}  \n')
        r = self.install(destdir)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(config) as f:
            self.assertEqual(f.read(), '{"services": {}}  \n')
        self.assertTrue(os.path.isdir(os.path.join(os.path.dirname(config), "services.d")))


class ManPageTests(unittest.TestCase):
    PAGES = [os.path.join(harness.SOURCE_ROOT, "man", p) for p in ("switchboard.8", "switchboard.json.5")]

    def test_mandoc_lint_is_clean(self):
        mandoc = require_tool("mandoc")
        for page in self.PAGES:
            with self.subTest(page=os.path.basename(page)):
                r = subprocess.run([mandoc, "-T", "lint", "-W", "style", page], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_groff_has_no_warnings(self):
        groff = require_tool("groff")
        for page in self.PAGES:
            with self.subTest(page=os.path.basename(page)):
                r = subprocess.run([groff, "-ww", "-z", "-man", page], capture_output=True, text=True, timeout=30)
                self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))

    def test_the_linters_see_a_broken_page(self):
        # The two tests above would pass on anything if the tools were silent.
        bad = os.path.join(tempfile.mkdtemp(prefix="sb-man-"), "bad.8")
        with open(bad, "w") as f:
            f.write(".TH BAD 8 2026-01-01 x y\n.SH NAME\nbad \\- page\n.SH DESCRIPTION\n.nosuchmacro\n")
        r = subprocess.run([require_tool("mandoc"), "-T", "lint", bad], capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        r = subprocess.run([require_tool("groff"), "-ww", "-z", "-man", bad], capture_output=True, text=True,
                           timeout=30)
        self.assertIn("nosuchmacro", r.stderr)

    def test_every_command_has_its_section(self):
        with open(self.PAGES[0]) as f:
            page = f.read()
        for command in ("run", "check", "ctl", "probe"):
            self.assertRegex(page, r"\n\.B %s\n" % command)


class UnitFileTests(unittest.TestCase):
    def verify(self, unit_text, extra=()):
        analyze = require_tool("systemd-analyze")
        tmp = tempfile.mkdtemp(prefix="sb-units-")
        with open(os.path.join(tmp, "switchboard.service"), "w") as f:
            f.write(unit_text)
        shutil.copy(os.path.join(harness.SOURCE_ROOT, "systemd", "switchboard.socket"), tmp)
        if systemd_version() < 253:
            os.makedirs(os.path.join(tmp, "switchboard.service.d"))
            shutil.copy(os.path.join(harness.SOURCE_ROOT, "systemd", "notify-compat.conf"),
                        os.path.join(tmp, "switchboard.service.d"))
        # --man=no: Documentation= names man pages that are not installed here.
        return subprocess.run([analyze, "verify", "--man=no", "./switchboard.service", "./switchboard.socket"],
                              capture_output=True, text=True, timeout=60, cwd=tmp)

    def unit(self):
        # The configured unit, run on the binary just built: verify needs
        # ExecStart to name an executable that exists.
        with open(os.path.join(BUILD_ROOT, "switchboard.service")) as f:
            text = f.read()
        config = os.path.join(harness.SOURCE_ROOT, "config", "switchboard.json")
        return re.sub(r"^ExecStart=.*$", f"ExecStart={harness.SWITCHBOARD} run -c {config}", text, flags=re.M)

    def problems(self, output):
        # systemd < 253 does not know Type=notify-reload; the compat drop-in covers it.
        known = r"switchboard\.service:\d+: Failed to parse service type, ignoring: notify-reload"
        return [line for line in output.splitlines()
                if line.strip() and not (systemd_version() < 253 and re.search(known, line))]

    def test_systemd_analyze_verify_accepts_the_units(self):
        r = self.verify(self.unit())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.problems(r.stdout + r.stderr), [])

    def test_verify_would_see_a_mistake(self):
        r = self.verify(self.unit().replace("KillMode=mixed", "KillMode=mixed\nKilMode=process"))
        self.assertIn("Unknown key 'KilMode'", r.stdout + r.stderr)
        r = self.verify(re.sub(r"^ExecStart=\S+", "ExecStart=/nonexistent/switchboard", self.unit(), flags=re.M))
        self.assertNotEqual(r.returncode, 0)

    def test_the_service_is_notify_reload_and_stops_after_the_grace(self):
        with open(os.path.join(harness.SOURCE_ROOT, "systemd", "switchboard.service.in")) as f:
            unit = f.read()
        keys = dict(re.findall(r"^(\w+)=(.*)$", unit, re.M))
        self.assertEqual(keys["Type"], "notify-reload")
        self.assertNotIn("ExecReload", keys)
        self.assertEqual(keys["KillMode"], "mixed")
        # shutdown_grace (10s) + SIGTERM and SIGKILL one exec grace (5s) apart.
        self.assertGreater(int(keys["TimeoutStopSec"].rstrip("s")), 10 + 2 * 5)
        self.assertIn("CAP_SETUID", keys["CapabilityBoundingSet"])
        self.assertNotIn("NoNewPrivileges", keys)


if __name__ == "__main__":
    harness.main()
