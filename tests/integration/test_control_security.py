"""The control socket as a security boundary: the TCP port obeys no HTTP
request and needs a token for state changes, roles split read-only users
from admins, and no peer can lock the others (or root) out.

Non-root peers are real processes that dropped to uid 65534 (nobody) or 1
(daemon) with group 65534, which owns the control socket in these tests."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import (SWITCHBOARD, Server, base_config, builtin_service, control_socket_path, ctl, ctl_json,
                     echo_answers, run_cli)

NOBODY = 65534
NOGROUP = 65534
ADMIN_GROUP = 4242  # a gid no account uses; only the test gives it to a process


def dropped_to(uid, gid=NOGROUP, groups=()):
    """A preexec_fn that makes the child uid/gid with exactly `groups`."""
    def drop():
        os.setgroups(list(groups))
        os.setgid(gid)
        os.setuid(uid)
    return drop


def ctl_as(uid, sock, *args, groups=(), timeout=20):
    return subprocess.run([SWITCHBOARD, "ctl", "-s", sock] + list(args), capture_output=True, text=True,
                          timeout=timeout, preexec_fn=dropped_to(uid, groups=groups))


def tcp_exchange(port, payload, timeout=5):
    """Sends `payload` to the TCP control port; returns (what came back,
    whether the server closed the connection within `timeout`)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(payload)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return bytes(out), False
            except ConnectionResetError:
                return bytes(out), True
            if not chunk:
                return bytes(out), True
            out += chunk
        return bytes(out), False
    finally:
        s.close()


def write_token(directory, text="0f1e2d3c4b5a69788796a5b4c3d2e1f0\n", mode=0o600):
    path = os.path.join(directory, "control.token")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def service_state(sock, name="echo"):
    code, j = ctl_json(sock, "services")
    return {s["name"]: s["state"] for s in j["services"]}[name]


def refused_total(sock, reason):
    r = ctl(sock, "metrics")
    needle = 'switchboard_control_refused_total{reason="%s"} ' % reason
    for line in r.stdout.splitlines():
        if line.startswith(needle):
            return int(line[len(needle):])
    raise AssertionError("no %s sample in:\n%s" % (needle, r.stdout))


class ControlSecurityTests(unittest.TestCase):
    def start(self, control):
        self.port = harness.free_port()
        self.echo = ("127.0.0.1", self.port)
        cfg = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}"])})
        cfg["control"] = control
        self.server = Server(cfg).start()
        return self.server

    def start_with_unix_and_tcp(self, **extra):
        self.sock = control_socket_path()
        self.tcp_port = harness.free_port(udp_too=False)
        return self.start(dict({"socket": self.sock, "tcp": f"tcp://127.0.0.1:{self.tcp_port}"}, **extra))

    def start_shared_with_nogroup(self, **extra):
        """A control socket that group 65534 may connect to (0660)."""
        self.sock = control_socket_path()
        os.chmod(os.path.dirname(self.sock), 0o755)
        return self.start(dict({"socket": self.sock, "mode": "0660", "group": NOGROUP}, **extra))

    def tearDown(self):
        if getattr(self, "server", None) is not None:
            self.server.__exit__()

    # ---- TCP: no HTTP, and a token for state changes -----------------------

    def test_an_http_post_to_the_tcp_port_is_closed_at_its_first_line_and_changes_nothing(self):
        # The reproduction: what a browser's fetch(..., {method: "POST",
        # mode: "no-cors", body}) sends to a loopback port.
        self.start_with_unix_and_tcp()
        body = b'{"command":"disable","service":"echo"}\n'
        request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: text/plain\r\n"
                   b"Content-Length: %d\r\n\r\n" % (self.tcp_port, len(body))) + body
        mark = self.server.log_mark()
        out, closed = tcp_exchange(self.tcp_port, request)
        self.assertTrue(closed, "the server kept the connection open; it answered %r" % out)
        replies = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual(len(replies), 1, out)
        self.assertFalse(replies[0]["ok"])
        self.assertEqual(replies[0]["error"], "malformed request: not valid JSON; closing")
        self.assertEqual(service_state(self.sock), "enabled")
        self.assertTrue(echo_answers(self.echo))
        # Logged and counted once, for the first line only.
        self.server.wait_for(r"\bcontrol-bad-request\b.*closing=true", start=mark)
        with self.server.cond:
            bad = [l for l in self.server.lines[mark:] if "control-bad-request" in l]
        self.assertEqual(len(bad), 1, bad)
        self.assertEqual(refused_total(self.sock, "malformed"), 1)
        # ctl over TCP still works for reading.
        r = run_cli("ctl", "-s", f"tcp://127.0.0.1:{self.tcp_port}", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.server.stop(), 0)

    def test_state_changes_over_tcp_need_the_token_that_ctl_reads_from_the_config(self):
        directory = tempfile.mkdtemp(prefix="sb-token-")
        token_file = write_token(directory)
        self.tcp_port = harness.free_port(udp_too=False)
        tcp = f"tcp://127.0.0.1:{self.tcp_port}"
        self.start({"socket": "", "tcp": tcp, "token_file": token_file})
        # No token: read-only commands work, state changes are refused.
        r = run_cli("ctl", "-s", tcp, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_cli("ctl", "-s", tcp, "disable", "echo")
        self.assertEqual(r.returncode, 2)
        self.assertIn("permission denied: 'disable' needs admin; over TCP send the token from control.token_file",
                      r.stderr)
        self.assertTrue(echo_answers(self.echo))
        # A wrong token is refused whatever it asks; the connection goes on.
        out, closed = tcp_exchange(self.tcp_port, b'{"command":"drain","token":"0f1e2d3c4b5a69788796a5b4c3d2e1f1"}\n'
                                                  b'{"command":"status"}\n', timeout=1)
        replies = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual([r["ok"] for r in replies], [False, True], out)
        self.assertEqual(replies[0]["error"], "permission denied: wrong token")
        # ctl -c: the socket and the token come from the configuration.
        r = run_cli("ctl", "-c", self.server.path, "disable", "echo")
        self.assertEqual((r.returncode, r.stdout), (0, "echo: disabled\n"), r.stderr)
        self.assertFalse(echo_answers(self.echo, timeout=1))
        r = run_cli("ctl", "-c", self.server.path, "enable", "echo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(echo_answers(self.echo))
        # -s with the same address: the token comes from the default configuration.
        env = dict(os.environ, SWITCHBOARD_CONFIG=self.server.path)
        r = subprocess.run([SWITCHBOARD, "ctl", "-s", tcp, "enable", "echo"], capture_output=True, text=True,
                           timeout=20, env=env)
        self.assertEqual((r.returncode, r.stdout), (0, "echo: enabled\n"), r.stderr)
        # -s with another address: whoever listens there never sees the token.
        impostor = socket.socket()
        impostor.bind(("127.0.0.1", 0))
        impostor.listen(1)
        other = "tcp://127.0.0.1:%d" % impostor.getsockname()[1]
        ctl_proc = subprocess.Popen([SWITCHBOARD, "ctl", "-s", other, "disable", "echo"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=env)
        impostor.settimeout(10)
        conn, _ = impostor.accept()
        conn.settimeout(10)
        got = conn.recv(65536)
        conn.sendall(b'{"ok":false,"error":"no"}\n')
        conn.close()
        impostor.close()
        ctl_proc.communicate(timeout=20)
        self.assertEqual(json.loads(got), {"command": "disable", "service": "echo"})
        # The token is never written to the log.
        self.assertNotIn("0f1e2d3c4b5a6978", self.server.log_text())
        # A new token takes effect with the next reload; the old one is refused.
        # (ctl would send the new one already, so the reload comes from SIGHUP.)
        write_token(directory, "a-brand-new-token-that-replaces-the-old\n")
        mark = self.server.log_mark()
        self.server.send_signal(signal.SIGHUP)
        self.server.wait_for(r"\breloaded\b", start=mark)
        out, _ = tcp_exchange(self.tcp_port, b'{"command":"drain","token":"0f1e2d3c4b5a69788796a5b4c3d2e1f0"}\n',
                              timeout=1)
        self.assertEqual(json.loads(out.decode().splitlines()[0])["error"], "permission denied: wrong token")
        r = run_cli("ctl", "-c", self.server.path, "disable", "echo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.server.stop(), 0)

    def test_without_a_token_file_tcp_is_read_only(self):
        self.start_with_unix_and_tcp()
        tcp = f"tcp://127.0.0.1:{self.tcp_port}"
        for args in (["disable", "echo"], ["reload"], ["drain"]):
            r = run_cli("ctl", "-s", tcp, *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("over TCP that takes a token, and this server has no control.token_file", r.stderr)
        self.assertEqual(service_state(self.sock), "enabled")
        code, j = ctl_json(self.sock, "status")
        self.assertFalse(j["stopping"])
        self.assertEqual(self.server.stop(), 0)

    def test_check_refuses_a_token_file_others_may_read(self):
        directory = tempfile.mkdtemp(prefix="sb-token-")
        token_file = write_token(directory, mode=0o644)
        path = os.path.join(directory, "switchboard.json")
        cfg = base_config({})
        cfg["control"] = {"socket": "", "tcp": "tcp://127.0.0.1:1", "token_file": token_file}
        with open(path, "w") as f:
            json.dump(cfg, f)
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"/control/token_file: the control token file {token_file} has mode 0644, so its group or "
                      f"others may read or change it; make it readable by its owner only (chmod 600 {token_file})",
                      r.stderr)
        os.chmod(token_file, 0o600)
        os.chown(token_file, NOBODY, -1)
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"the control token file {token_file} is owned by uid {NOBODY}; it must belong to root",
                      r.stderr)
        os.chown(token_file, 0, -1)
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"control: no socket, tcp://127.0.0.1:1, token file {token_file}\n", r.stdout)
        # Without a token file, check says what that means for TCP.
        cfg_without = json.loads(json.dumps(cfg))
        del cfg_without["control"]["token_file"]
        with open(path, "w") as f:
            json.dump(cfg_without, f)
        r = run_cli("check", "-c", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("control: no socket, tcp://127.0.0.1:1 (read-only: no token_file)\n", r.stdout)
        with open(path, "w") as f:
            json.dump(cfg, f)
        # The server refuses to start on a loose file just as check does.
        os.chmod(token_file, 0o640)
        server = Server(cfg).start(wait_ready=False)
        self.addCleanup(server.__exit__)
        self.assertEqual(server.wait_exit(10), 2)

    # ---- roles --------------------------------------------------------------

    def test_the_control_group_reads_and_only_admins_change_state(self):
        self.start_shared_with_nogroup(admin_group=ADMIN_GROUP)
        r = ctl_as(NOBODY, self.sock, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        for command in (["services"], ["connections"], ["metrics"]):
            self.assertEqual(ctl_as(NOBODY, self.sock, *command).returncode, 0, command)
        mark = self.server.log_mark()
        for command in (["disable", "echo"], ["reload"], ["drain"], ["enable", "echo"]):
            r = ctl_as(NOBODY, self.sock, *command)
            self.assertEqual(r.returncode, 2, command)
            self.assertIn("permission denied: '%s' needs admin (root, uid %d or group %d); you are uid %d"
                          % (command[0], os.geteuid(), ADMIN_GROUP, NOBODY), r.stderr)
        self.server.wait_for(r"\bcontrol-denied\b.*command=drain.*uid=%d" % NOBODY, start=mark)
        self.assertTrue(echo_answers(self.echo))
        code, j = ctl_json(self.sock, "status")
        self.assertEqual((j["stopping"], j["generation"]), (False, 1))
        # The same user with the admin group among its groups may.
        r = ctl_as(NOBODY, self.sock, "disable", "echo", groups=(ADMIN_GROUP,))
        self.assertEqual((r.returncode, r.stdout), (0, "echo: disabled\n"), r.stderr)
        self.assertFalse(echo_answers(self.echo, timeout=1))
        # Root always may.
        r = ctl(self.sock, "enable", "echo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(echo_answers(self.echo))
        self.assertEqual(refused_total(self.sock, "denied"), 4)
        self.assertEqual(self.server.stop(), 0)

    def test_without_an_admin_group_the_control_group_only_reads(self):
        self.start_shared_with_nogroup()
        r = ctl_as(NOBODY, self.sock, "disable", "echo")
        self.assertEqual(r.returncode, 2)
        self.assertIn("permission denied: 'disable' needs admin (root, uid %d); you are uid %d"
                      % (os.geteuid(), NOBODY), r.stderr)
        self.assertEqual(service_state(self.sock), "enabled")
        self.assertEqual(self.server.stop(), 0)

    # ---- lockout -----------------------------------------------------------

    HOLDER = r"""
import json, select, socket, sys, time
path, count = sys.argv[1], int(sys.argv[2])
held, refused = [], 0
for _ in range(count):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    try:
        s.send(b" ")  # the start of a request that never ends
    except OSError:
        pass  # refused and closed already: counted below
    held.append(s)
# A refused connection gets one error line and is closed at once.
time.sleep(0.5)
for s in held:
    s.setblocking(False)
    try:
        data = s.recv(4096)
    except (BlockingIOError, ConnectionResetError):
        continue
    if b"too many control connections" in data:
        refused += 1
print(json.dumps({"connected": count, "refused": refused}), flush=True)
# Keep the rest alive with a byte now and then until told to stop (bounded).
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    if select.select([sys.stdin], [], [], 0.5)[0]:
        break
    for s in held:
        try:
            s.send(b" ")
        except OSError:
            pass
"""

    def hold(self, uid, count):
        # The system's interpreter: one under /root is out of nobody's reach.
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        proc = subprocess.Popen([python, "-c", self.HOLDER, self.sock, str(count)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, preexec_fn=dropped_to(uid))
        self.addCleanup(proc.stdout.close)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.stdin.close)
        line = proc.stdout.readline()
        self.assertTrue(line, "the holder died")
        return proc, json.loads(line)

    def test_idle_connections_from_one_user_lock_out_neither_root_nor_other_users(self):
        # The reproduction: 64 connections from one non-root uid, each
        # kept alive by a byte now and then.
        self.start_shared_with_nogroup()
        proc, held = self.hold(NOBODY, 64)
        r = ctl(self.sock, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        # Another non-root user still gets a slot of its own.
        r = ctl_as(1, self.sock, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        # One uid holds at most 16; the rest were told why.
        self.assertEqual(held["refused"], 64 - 16, held)
        r = ctl_as(NOBODY, self.sock, "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("too many control connections from uid %d (at most 16); try again later" % NOBODY, r.stderr)
        self.assertGreaterEqual(refused_total(self.sock, "busy"), 64 - 16 + 1)
        proc.stdin.close()
        self.assertEqual(proc.wait(10), 0)
        # Gone: the user's slots are free again.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and ctl_as(NOBODY, self.sock, "status").returncode != 0:
            time.sleep(0.1)
        self.assertEqual(ctl_as(NOBODY, self.sock, "status").returncode, 0)
        self.assertEqual(self.server.stop(), 0)

    def test_many_users_cannot_take_the_slots_kept_for_root(self):
        self.start_shared_with_nogroup()
        # Four users at their per-uid bound of 16 would fill all 64 slots;
        # the last 8 stay free for root and the server's user.
        holders = [self.hold(uid, 16) for uid in (NOBODY, 1, 2, 3)]
        refused = sum(h["refused"] for _, h in holders)
        self.assertEqual(refused, 8, [h for _, h in holders])
        r = ctl(self.sock, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        code, j = ctl_json(self.sock, "status")
        self.assertEqual(code, 0)
        for proc, _ in holders:
            proc.stdin.close()
        self.assertEqual(self.server.stop(), 0)

    def test_one_tcp_address_holds_at_most_16_and_the_unix_socket_stays_open(self):
        self.start_with_unix_and_tcp()
        held = []
        refused = 0
        try:
            for _ in range(24):
                s = socket.create_connection(("127.0.0.1", self.tcp_port), timeout=5)
                held.append(s)
            time.sleep(0.5)
            for s in held:
                s.setblocking(False)
                try:
                    if b"too many control connections from 127.0.0.1 (at most 16)" in s.recv(4096):
                        refused += 1
                except (BlockingIOError, ConnectionResetError):
                    pass
            self.assertEqual(refused, 24 - 16)
            r = ctl(self.sock, "status")
            self.assertEqual(r.returncode, 0, r.stderr)
        finally:
            for s in held:
                s.close()
        self.assertEqual(self.server.stop(), 0)

    def test_a_request_dribbled_a_byte_at_a_time_is_closed_at_its_deadline(self):
        self.start_shared_with_nogroup()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        started = time.monotonic()
        closed_after = None
        reply = b""
        s.settimeout(1.0)
        for _ in range(25):  # one byte a second: the idle timeout (60s) never fires
            try:
                s.sendall(b" ")
                data = s.recv(4096)
            except socket.timeout:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - started
                break
            reply += data
            if not data:
                closed_after = time.monotonic() - started
                break
        s.close()
        self.assertIsNotNone(closed_after, "a request that never ends was not closed within 25s")
        print("\n  slow request closed after %.1fs (deadline 10s, checked every second)" % closed_after,
              file=sys.stderr)
        self.assertIn(b"not complete, or its reply not read, within 10s; closing", reply)
        self.assertEqual(refused_total(self.sock, "deadline"), 1)
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    harness.main()
