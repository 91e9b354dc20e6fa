"""The control socket and `switchboard ctl`: status, services, connections,
enable/disable, drain, reload errors, metrics, malformed requests, the
socket file itself, SIGUSR1, and the config watcher."""
import json
import os
import signal
import socket
import stat
import time
import unittest

import harness
from harness import (Server, base_config, builtin_service, connect, control_exchange, control_socket_path, ctl,
                     ctl_json, echo_answers, recv_exactly, recv_until_eof, run_cli)


class ControlTests(unittest.TestCase):
    def start(self, services=None, control=None, **extra):
        self.port = harness.free_port()
        self.echo = ("127.0.0.1", self.port)
        self.sock = control_socket_path()
        if services is None:
            services = {"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}"])}
        cfg = base_config(services, **extra)
        cfg["control"] = dict({"socket": self.sock}, **(control or {}))
        self.server = Server(cfg).start()
        return self.server

    def tearDown(self):
        if getattr(self, "server", None) is not None:
            self.server.__exit__()

    def test_status(self):
        self.start()
        r = ctl(self.sock, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^generation +1$")
        self.assertRegex(r.stdout, r"(?m)^pid +%d$" % self.server.pid)
        self.assertRegex(r.stdout, r"(?m)^config +%s$" % self.server.path)
        code, j = ctl_json(self.sock, "status")
        self.assertEqual(code, 0)
        self.assertTrue(j["ok"])
        self.assertEqual(j["pid"], self.server.pid)
        self.assertEqual(j["services"], 1)
        self.assertEqual(j["connections"], 0)
        self.assertEqual(j["children"], 0)
        self.assertGreaterEqual(j["uptime"], 0)
        self.assertRegex(j["version"], r"^\d+\.\d+\.\d+")
        self.assertEqual(self.server.stop(), 0)

    def test_an_open_connection_shows_in_connections_and_services(self):
        self.start()
        s = connect(self.echo)
        s.sendall(b"hello")
        self.assertEqual(recv_exactly(s, 5), b"hello")
        peer = "127.0.0.1:%d" % s.getsockname()[1]

        code, j = ctl_json(self.sock, "connections")
        self.assertEqual(code, 0)
        self.assertEqual(len(j["connections"]), 1)
        c = j["connections"][0]
        self.assertEqual((c["service"], c["peer"], c["bytes_in"], c["pid"]), ("echo", peer, 5, None))
        r = ctl(self.sock, "connections")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^ID +SERVICE +PEER +AGE +IN +OUT +PID +UPSTREAM\n")
        self.assertIn(peer, r.stdout)

        code, j = ctl_json(self.sock, "services")
        echo = j["services"][0]
        self.assertEqual((echo["name"], echo["state"], echo["active"], echo["accepted"]), ("echo", "enabled", 1, 1))
        self.assertEqual(echo["listeners"], [f"tcp://127.0.0.1:{self.port}"])
        self.assertEqual(echo["bytes_in"], 5)  # counted while the connection is still open
        r = ctl(self.sock, "services")
        self.assertRegex(r.stdout, r"(?m)^echo +enabled +1 +1 +0 +0 +builtin echo +tcp://127\.0\.0\.1:%d$" % self.port)
        s.close()
        self.assertEqual(self.server.stop(), 0)

    def test_disable_and_enable_seen_from_a_client(self):
        self.start()
        self.assertTrue(echo_answers(self.echo))
        r = ctl(self.sock, "disable", "echo")
        self.assertEqual((r.returncode, r.stdout), (0, "echo: disabled\n"))
        self.assertFalse(echo_answers(self.echo, timeout=1))
        code, j = ctl_json(self.sock, "services")
        self.assertEqual(j["services"][0]["state"], "disabled")
        r = ctl(self.sock, "enable", "echo")
        self.assertEqual((r.returncode, r.stdout), (0, "echo: enabled\n"))
        self.assertTrue(echo_answers(self.echo))
        r = ctl(self.sock, "enable", "nonesuch")
        self.assertEqual(r.returncode, 2)
        self.assertIn('no service named "nonesuch"', r.stderr)
        self.assertEqual(self.server.stop(), 0)

    def test_drain_serves_open_connections_refuses_new_and_exits(self):
        server = self.start()
        s = connect(self.echo)
        s.sendall(b"one")
        self.assertEqual(recv_exactly(s, 3), b"one")
        r = ctl(self.sock, "drain")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("draining: 1 connection open", r.stdout)
        self.assertFalse(echo_answers(self.echo, timeout=1))
        s.sendall(b"two")
        self.assertEqual(recv_exactly(s, 3), b"two")
        code, j = ctl_json(self.sock, "status")  # the control socket stays up while draining
        self.assertTrue(j["stopping"])
        self.assertIsNone(server.proc.poll())
        s.close()
        self.assertEqual(server.wait_exit(10), 0)
        self.assertFalse(os.path.exists(self.sock))

    def test_malformed_requests_get_errors_and_change_nothing(self):
        self.start()
        out = control_exchange(self.sock, b'garbage\n{"command":"nope"}\n{}\n{"command":"enable"}\n')
        replies = [json.loads(line) for line in out.decode().splitlines()]
        self.assertEqual(len(replies), 4, out)
        self.assertTrue(all(r["ok"] is False for r in replies))
        self.assertEqual(replies[0]["error"], "malformed request: not valid JSON")
        self.assertIn('unknown command "nope"', replies[1]["error"])
        self.assertEqual(replies[2]["error"], 'missing "command"')
        self.assertEqual(replies[3]["error"], 'enable needs a "service"')
        # Oversized: an error reply, then the server hangs up.
        out = control_exchange(self.sock, b"x" * (70 * 1024))
        reply = json.loads(out.decode().splitlines()[0])
        self.assertFalse(reply["ok"])
        self.assertIn("request too large", reply["error"])
        # The server is unharmed.
        self.assertTrue(echo_answers(self.echo))
        code, j = ctl_json(self.sock, "status")
        self.assertEqual((code, j["generation"]), (0, 1))
        self.assertEqual(self.server.stop(), 0)

    def test_socket_mode_stale_file_and_removal(self):
        # A stale socket file from a crashed server is replaced.
        sock = control_socket_path()
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(sock)
        stale.close()
        self.port = harness.free_port()
        cfg = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}"])})
        cfg["control"] = {"socket": sock}
        self.server = Server(cfg).start()
        self.assertEqual(stat.S_IMODE(os.stat(sock).st_mode), 0o600)
        self.assertEqual(ctl(sock, "status").returncode, 0)
        # A second server on the same socket refuses to start rather than steal it.
        other = Server(dict(cfg, services={})).start(wait_ready=False)
        self.assertEqual(other.wait_exit(10), 1)
        deadline = time.monotonic() + 5  # the log reader may still be catching up
        while "in use" not in other.log_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertIn("in use", other.log_text())
        self.assertEqual(ctl(sock, "status").returncode, 0)
        self.assertEqual(self.server.stop(), 0)
        self.assertFalse(os.path.exists(sock))

    def test_configured_mode(self):
        self.start(control={"mode": "0660"})
        self.assertEqual(stat.S_IMODE(os.stat(self.sock).st_mode), 0o660)
        self.assertEqual(self.server.stop(), 0)

    def test_reload_with_an_invalid_config_lists_errors_and_keeps_serving(self):
        server = self.start()
        with open(server.path) as f:
            good = f.read()
        bad = json.loads(good)
        bad["services"]["echo"]["max_conections"] = 3
        bad["services"]["broken"] = {"listen": ["tcp://127.0.0.1:70000"], "builtin": "echo"}
        server.write_config(bad)
        r = ctl(self.sock, "reload")
        self.assertEqual(r.returncode, 2)
        self.assertIn("reload failed with 2 errors; the running configuration is unchanged", r.stderr)
        self.assertRegex(r.stderr, r"/services/echo/max_conections: .*did you mean")
        self.assertRegex(r.stderr, r"/services/broken/listen/0: .*70000")
        code, j = ctl_json(self.sock, "reload")
        self.assertEqual(code, 2)
        self.assertEqual(len(j["errors"]), 2)
        self.assertTrue(echo_answers(self.echo))
        code, j = ctl_json(self.sock, "status")
        self.assertEqual(j["generation"], 1)
        self.assertEqual(j["reloads"]["failed"], 2)
        # Fixed again: the reload goes through.
        server.write_config(good)
        r = ctl(self.sock, "reload")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^reloaded in [\d.]+ ms, generation 2\n")
        self.assertRegex(r.stdout, r"(?m)^kept +echo$")
        self.assertEqual(server.stop(), 0)

    def test_metrics(self):
        self.start()
        self.assertTrue(echo_answers(self.echo, b"12345"))
        r = ctl(self.sock, "metrics")
        self.assertEqual(r.returncode, 0)
        self.assertIn('switchboard_build_info{version="', r.stdout)
        self.assertIn('switchboard_connections_accepted_total{service="echo"} 1\n', r.stdout)
        self.assertIn('switchboard_connections_rejected_total{service="echo",reason="max_connections"} 0\n',
                      r.stdout)
        self.assertIn('switchboard_reloads_total{result="ok"} 0\n', r.stdout)
        # Every sample line parses as `name{labels} value`.
        for line in r.stdout.splitlines():
            if not line.startswith("#"):
                self.assertRegex(line, r'^switchboard_[a-z_]+(\{[^}]*\})? [0-9.e+-]+$')
        self.assertEqual(self.server.stop(), 0)

    def test_sigusr1_writes_the_state_to_the_log(self):
        server = self.start()
        mark = server.log_mark()
        server.proc.send_signal(signal.SIGUSR1)
        server.wait_for(r"\bstate\b.*generation=1.*services=1", start=mark)
        server.wait_for(r"\bstate-service\b.*service=echo.*state=enabled", start=mark)
        self.assertIsNone(server.proc.poll())
        self.assertEqual(server.stop(), 0)

    def test_commands_are_logged_with_the_peer_uid(self):
        server = self.start()
        mark = server.log_mark()
        self.assertEqual(ctl(self.sock, "disable", "echo").returncode, 0)
        server.wait_for(r"\bcontrol\b.*command=disable.*service=echo.*uid=%d" % os.getuid(), start=mark)
        # Read-only commands too, at the default level (info).
        for command in ("status", "services", "connections", "metrics"):
            mark = server.log_mark()
            self.assertEqual(ctl(self.sock, command).returncode, 0)
            server.wait_for(r" info control command=%s .*uid=%d" % (command, os.getuid()), start=mark)
        self.assertEqual(server.stop(), 0)

    def test_tcp_control_and_socket_from_config(self):
        tcp_port = harness.free_port(udp_too=False)
        self.start(control={"tcp": f"tcp://127.0.0.1:{tcp_port}"})
        r = run_cli("ctl", "-s", f"tcp://127.0.0.1:{tcp_port}", "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_cli("ctl", "-c", self.server.path, "services")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("echo", r.stdout)
        self.assertEqual(self.server.stop(), 0)

    def test_the_socket_follows_a_reload(self):
        server = self.start()
        moved = control_socket_path()
        with open(server.path) as f:
            cfg = json.load(f)
        cfg["control"]["socket"] = moved
        server.write_config(cfg)
        mark = server.log_mark()
        server.proc.send_signal(signal.SIGHUP)
        server.wait_for(r"\bcontrol-socket-moved\b.*" + moved, start=mark)
        r = ctl(moved, "status")
        self.assertEqual(r.returncode, 0, r.stderr + server.log_text())
        self.assertFalse(os.path.exists(self.sock))
        self.assertEqual(server.stop(), 0)
        self.assertFalse(os.path.exists(moved))

    def test_ctl_errors_and_usage(self):
        r = run_cli("ctl", "-s", "/nonexistent/control.sock", "status")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect to the control socket /nonexistent/control.sock", r.stderr)
        for args in ([], ["frobnicate"], ["enable"], ["status", "extra"], ["--bogus", "status"]):
            r = run_cli("ctl", "-s", "/nonexistent/control.sock", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn("usage:", r.stderr)


class WatchTests(unittest.TestCase):
    """"watch": true — the main file's directory and included directories."""

    def setUp(self):
        self.port = harness.free_port()
        self.day_port = harness.free_port()
        self.sock = control_socket_path()
        self.cfg = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.port}"])},
                               watch=True, include=["services.d/*.json"])
        self.cfg["control"] = {"socket": self.sock}
        self.server = Server(self.cfg)
        os.mkdir(os.path.join(self.server.dir, "services.d"))
        self.server.start()

    def tearDown(self):
        self.server.__exit__()

    def reloads_since(self, mark):
        with self.server.cond:
            return [l for l in self.server.lines[mark:] if " reloaded " in l]

    def test_editor_rename_replace_of_the_main_file(self):
        mark = self.server.log_mark()
        cfg = json.loads(json.dumps(self.cfg))
        cfg["services"]["daytime"] = builtin_service("daytime", [f"tcp://127.0.0.1:{self.day_port}"])
        tmp = self.server.path + ".new"
        self.server.write_config(cfg, tmp)
        os.rename(tmp, self.server.path)
        self.server.wait_for(r"\breloaded\b.*added=daytime", start=mark)
        s = connect(("127.0.0.1", self.day_port))
        self.assertTrue(recv_until_eof(s).endswith(b"\r\n"))
        s.close()
        self.assertEqual(self.server.stop(), 0)

    def test_a_new_file_in_an_included_directory(self):
        mark = self.server.log_mark()
        path = os.path.join(self.server.dir, "services.d", "daytime.json")
        with open(path, "w") as f:
            json.dump({"services": {"daytime": builtin_service("daytime", [f"tcp://127.0.0.1:{self.day_port}"])}}, f)
        self.server.wait_for(r"\breloaded\b.*added=daytime", start=mark)
        code, j = ctl_json(self.sock, "services")
        self.assertEqual(sorted(s["name"] for s in j["services"]), ["daytime", "echo"])
        # Removing it is a change too.
        mark = self.server.log_mark()
        os.unlink(path)
        self.server.wait_for(r"\breloaded\b.*removed=daytime", start=mark)
        self.assertEqual(self.server.stop(), 0)

    def test_a_burst_of_writes_is_one_reload(self):
        mark = self.server.log_mark()
        for i in range(10):
            cfg = json.loads(json.dumps(self.cfg))
            cfg["drain_grace"] = f"{i + 1}s"
            self.server.write_config(cfg)
            time.sleep(0.02)
        self.server.wait_for(r"\breloaded\b", start=mark)
        time.sleep(1.0)  # anything still pending would have fired by now
        self.assertEqual(len(self.reloads_since(mark)), 1, self.server.log_text())
        self.assertTrue(echo_answers(("127.0.0.1", self.port)))
        self.assertEqual(self.server.stop(), 0)

    def test_a_broken_file_is_a_counted_failure_and_changes_nothing(self):
        mark = self.server.log_mark()
        with open(os.path.join(self.server.dir, "services.d", "broken.json"), "w") as f:
            f.write('{"services": {"x": ')
        self.server.wait_for(r"\breload-failed\b.*trigger=watch", start=mark)
        code, j = ctl_json(self.sock, "status")
        self.assertEqual((j["generation"], j["reloads"]["failed"], j["reloads"]["succeeded"]), (1, 1, 0))
        self.assertTrue(echo_answers(("127.0.0.1", self.port)))
        self.assertEqual(self.server.stop(), 0)

    def test_unrelated_files_do_not_reload(self):
        mark = self.server.log_mark()
        for name in ("notes.txt", ".switchboard.json.swp", "switchboard.json~"):
            with open(os.path.join(self.server.dir, name), "w") as f:
                f.write("x")
        time.sleep(0.8)
        self.assertEqual(self.reloads_since(mark), [])
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    harness.main()
