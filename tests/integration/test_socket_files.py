"""Socket files are ours alone (README "Security"): the server changes the
mode and owner of the socket it bound and of nothing else (never through a
symlink), creates missing directories 0755 whatever its umask, refuses a
socket directory another user could write to at bind time too, and `ctl`
refuses to talk to a control socket served by another user."""
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, connect, recv_exactly

NOBODY = 65534


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@unittest.skipUnless(os.geteuid() == 0, "changing owners and impersonating another user need root")
class SocketFileTests(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sb-sockfile-")

    def root_only_file(self):
        """A root-owned 0600 file: what a symlink put at a socket's path
        points to, and what must never have its mode changed."""
        path = os.path.join(self.dir, "secret")
        with open(path, "w") as f:
            f.write("root only\n")
        os.chmod(path, 0o600)
        return path

    @staticmethod
    def reload_with(server, cfg, control):
        """Writes cfg and has the server reload it through `control`."""
        server.write_config(cfg)
        return harness.ctl_json(control, "reload")

    def test_a_reload_never_changes_the_mode_of_what_a_symlink_points_to(self):
        # The reproduction: the socket replaced by a symlink to a
        # root-owned 0600 file; a reload that changes the socket's mode
        # made that file 0666.
        path = os.path.join(self.dir, "echo.sock")
        secret = self.root_only_file()
        control = harness.control_socket_path()
        cfg = base_config({"echo": builtin_service("echo", [f"unix:{path}"], socket={"mode": "0600"})},
                          control={"socket": control})
        server = Server(cfg).start()
        self.addCleanup(server.__exit__)
        self.assertEqual(mode_of(path), 0o600)
        os.unlink(path)
        os.symlink(secret, path)
        cfg["services"]["echo"]["socket"] = {"mode": "0666"}
        code, reply = self.reload_with(server, cfg, control)
        self.assertEqual(code, 0, reply)
        self.assertEqual(mode_of(secret), 0o600, "the reload changed the mode of the symlink's target")
        self.assertTrue(os.path.islink(path))
        server.wait_for(r"socket-mode-not-changed .*no longer the socket the server created")
        # And the server does not remove what is not its own on exit.
        self.assertEqual(server.stop(), 0)
        self.assertTrue(os.path.islink(path))
        self.assertEqual(mode_of(secret), 0o600)

    def test_a_reload_never_changes_the_mode_of_a_file_in_place_of_the_control_socket(self):
        control = os.path.join(self.dir, "control.sock")
        secret = self.root_only_file()
        cfg = base_config({}, control={"socket": control, "mode": "0600"})
        server = Server(cfg).start()
        self.addCleanup(server.__exit__)
        self.assertEqual(mode_of(control), 0o600)
        # Moved aside (the server keeps listening on it) and a symlink put
        # at its path; the reload is asked for through the moved socket.
        aside = os.path.join(self.dir, "aside.sock")
        os.rename(control, aside)
        os.symlink(secret, control)
        cfg["control"]["mode"] = "0666"
        code, reply = self.reload_with(server, cfg, aside)
        self.assertEqual(code, 0, reply)
        self.assertEqual(mode_of(secret), 0o600, "the reload changed the mode of the symlink's target")
        server.wait_for(r"control-chmod-failed .*no longer the socket the server created")
        self.assertEqual(mode_of(aside), 0o600)

    def test_a_reload_changes_mode_and_group_of_its_own_socket(self):
        path = os.path.join(self.dir, "echo.sock")
        control = harness.control_socket_path()
        cfg = base_config({"echo": builtin_service("echo", [f"unix:{path}"], socket={"mode": "0600"})},
                          control={"socket": control})
        server = Server(cfg).start()
        self.addCleanup(server.__exit__)
        cfg["services"]["echo"]["socket"] = {"mode": "0660", "group": NOBODY}
        code, reply = self.reload_with(server, cfg, control)
        self.assertEqual(code, 0, reply)
        st = os.lstat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        self.assertEqual(st.st_gid, NOBODY)
        self.assertEqual(st.st_uid, 0)

    def test_a_symlink_in_place_of_the_socket_is_never_bound_over(self):
        path = os.path.join(self.dir, "echo.sock")
        target = os.path.join(self.dir, "target")
        with open(target, "w") as f:
            f.write("x")
        os.chmod(target, 0o600)
        os.symlink(target, path)
        cfg = base_config({"echo": builtin_service("echo", [f"unix:{path}"], socket={"mode": "0666"})})
        server = Server(cfg)
        server.start(wait_ready=False)
        self.addCleanup(server.__exit__)
        self.assertNotEqual(server.wait_exit(), 0)
        self.assertIn("is a symbolic link", server.log_text())
        self.assertEqual(mode_of(target), 0o600)
        self.assertTrue(os.path.islink(path))

    def test_missing_directories_are_made_0755_whatever_the_umask(self):
        path = os.path.join(self.dir, "a", "b", "echo.sock")
        cfg = base_config({"echo": builtin_service("echo", [f"unix:{path}"], socket={"mode": "0666"})})
        server = Server(cfg, preexec_fn=lambda: os.umask(0o077)).start()
        self.addCleanup(server.__exit__)
        for d in (os.path.join(self.dir, "a"), os.path.join(self.dir, "a", "b")):
            st = os.lstat(d)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o755, d)
            self.assertEqual(st.st_uid, os.geteuid())
        self.assertEqual(mode_of(path), 0o666)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"hi")
        self.assertEqual(recv_exactly(s, 2), b"hi")
        s.close()

    def test_a_socket_directory_made_writable_before_a_reload_fails_it(self):
        # `check` and every load refuse such a directory; the bind refuses
        # it too, for a directory that changed since.
        sub = os.path.join(self.dir, "run")
        os.mkdir(sub, 0o755)
        path = os.path.join(sub, "echo.sock")
        control = harness.control_socket_path()
        cfg = base_config({}, control={"socket": control})
        server = Server(cfg).start()
        self.addCleanup(server.__exit__)
        os.chown(sub, NOBODY, NOBODY)
        cfg["services"] = {"echo": builtin_service("echo", [f"unix:{path}"])}
        code, reply = self.reload_with(server, cfg, control)
        self.assertNotEqual(code, 0)
        self.assertIn("owned by uid 65534", json.dumps(reply))
        self.assertFalse(os.path.exists(path))


OBSERVER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs", "bind_observer.c")


def build_bind_observer(directory):
    """Compiles the LD_PRELOAD shim that records each UNIX socket file as
    bind() made it; None when there is no C compiler."""
    out = os.path.join(directory, "bind_observer.so")
    for cc in ("cc", "gcc", "clang"):
        try:
            r = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", out, OBSERVER_SOURCE, "-ldl"],
                               capture_output=True, text=True, timeout=60)
        except FileNotFoundError:
            continue
        if r.returncode == 0:
            return out
    return None


@unittest.skipIf(harness.sanitized(), "AddressSanitizer must be the first library loaded")
class NoLooserWindowTests(unittest.TestCase):
    def test_a_socket_file_never_exists_with_looser_permissions_than_configured(self):
        # bind() creates the file; before, it was created under the
        # server's umask (0755 with umask 022) and chmod-ed afterwards.
        d = tempfile.mkdtemp(prefix="sb-window-")
        shim = build_bind_observer(d)
        if shim is None:
            self.skipTest("no C compiler for the LD_PRELOAD observer")
        log = os.path.join(d, "binds.log")
        service_path = os.path.join(d, "echo.sock")
        control = os.path.join(d, "control.sock")
        cfg = base_config({"echo": builtin_service("echo", [f"unix:{service_path}"], socket={"mode": "0660"})},
                          control={"socket": control, "mode": "0600"})
        env = dict(os.environ, LD_PRELOAD=shim, SB_BIND_LOG=log)
        server = Server(cfg, env=env, preexec_fn=lambda: os.umask(0o022)).start()
        self.addCleanup(server.__exit__)
        self.assertEqual(server.stop(), 0)
        with open(log) as f:
            seen = {line.split()[0]: int(line.split()[1], 8) for line in f}
        configured = {service_path: 0o660, control: 0o600}
        for path, mode in configured.items():
            self.assertIn(path, seen)
            print(f"\n  {os.path.basename(path)}: {seen[path]:04o} as bind() made it, configured {mode:04o}")
            self.assertEqual(seen[path] & ~mode, 0, f"{path} was created {seen[path]:04o}, looser than {mode:04o}")


def serve_impostor(path, uid):
    """Starts a process running as `uid` that listens on `path` and answers
    every request with a made-up status; returns the Popen."""
    code = ("import os, socket, sys, json\n"
            "path, uid = sys.argv[1], int(sys.argv[2])\n"
            "os.setgroups([]); os.setgid(uid); os.setuid(uid)\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "s.bind(path); s.listen(8)\n"
            "print('ready', flush=True)\n"
            "for _ in range(20):\n"
            "    c, _ = s.accept()\n"
            "    c.recv(65536)\n"
            "    try: c.sendall(json.dumps({'ok': True, 'version': 'impostor', 'generation': 1}).encode() + b'\\n')\n"
            "    except OSError: pass\n"
            "    c.close()\n")
    p = subprocess.Popen([sys.executable, "-c", code, path, str(uid)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


@unittest.skipUnless(os.geteuid() == 0, "impersonating another user needs root")
class ImpostorControlSocketTests(unittest.TestCase):
    def test_ctl_refuses_a_control_socket_served_by_another_user(self):
        d = tempfile.mkdtemp(prefix="sb-impostor-")
        os.chmod(d, 0o1777)  # a sticky, world-writable directory, like /tmp
        path = os.path.join(d, "control.sock")
        impostor = serve_impostor(path, NOBODY)
        self.addCleanup(impostor.wait, 10)
        self.addCleanup(impostor.kill)
        r = harness.ctl(path, "status")
        print(f"\n  ctl status against an impostor: exit {r.returncode}: {(r.stdout + r.stderr).strip()}")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("impostor", r.stdout)
        self.assertIn("uid 65534", r.stderr)

    def test_ctl_talks_to_a_server_of_root(self):
        control = harness.control_socket_path()
        with Server(base_config({}, control={"socket": control})) as server:
            server.start()
            r = harness.ctl(control, "status")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
