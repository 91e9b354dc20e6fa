"""Socket activation (systemd's LISTEN_FDS) with the real
systemd-socket-activate: the server adopts the sockets it is passed instead
of binding, matched to configured listeners by kind and bound address; the
connection that started it is served; a passed socket no listener wants is
logged and closed; a listener with no passed socket is bound as usual; a
reload that drops a service keeps the passed socket open (connections
queue, nothing is refused) and a reload that brings it back serves them."""
import os
import re
import shutil
import socket
import tempfile
import unittest

import harness
from harness import Server, base_config, builtin_service, ctl_json

ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"


class SocketActivationTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sb-activate-")
        self.sock = os.path.join(self.tmp, "control.sock")

    def activated(self, config, listens, names=None):
        prefix = [ACTIVATE]
        for l in listens:
            prefix += ["-l", l]
        if names:
            prefix.append("--fdname=" + ":".join(names))
        server = Server(config, prefix=prefix)
        self.addCleanup(server.stop)
        server.start(wait_ready=False)
        for i in range(len(listens)):
            server.wait_for(r"Listening on .* as %d\." % (3 + i))
        return server

    def start_by_connecting(self, server, echo_port):
        """What makes systemd-socket-activate start the server: a connection
        to the passed echo socket, answered once the server adopted it.
        Returns that connection, open."""
        trigger = harness.connect(("127.0.0.1", echo_port))
        self.addCleanup(trigger.close)
        trigger.sendall(b"go")
        self.assertEqual(harness.recv_exactly(trigger, 2), b"go")
        server.wait_for(r"\bready\b")
        return trigger

    def test_the_passed_socket_is_adopted_and_kept_across_reloads(self):
        port = harness.free_port()
        config = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])},
                             control={"socket": self.sock})
        server = self.activated(config, [f"127.0.0.1:{port}"])
        # This connection is what makes systemd-socket-activate start the
        # server: it waits in the passed socket's backlog until adopted.
        first = harness.connect(("127.0.0.1", port))
        self.addCleanup(first.close)
        first.sendall(b"first")
        self.assertEqual(harness.recv_exactly(first, 5), b"first")
        server.wait_for(rf"socket-adopted .*address=tcp://127\.0\.0\.1:{port}")
        server.wait_for(r"\bready\b")
        self.assertNotIn("listen-fds-ignored", server.log_text())

        # Reload without the service: the socket stays open but unwatched.
        server.write_config(base_config({}, control={"socket": self.sock}))
        code, reply = ctl_json(self.sock, "reload")
        self.assertEqual(code, 0, reply)
        queued = harness.connect(("127.0.0.1", port))  # not refused: the socket is still listening
        self.addCleanup(queued.close)
        queued.sendall(b"queued")
        # Back again: the same socket is adopted (binding over it would fail
        # with EADDRINUSE), and the queued connection is served.
        server.write_config(config)
        code, reply = ctl_json(self.sock, "reload")
        self.assertEqual(code, 0, reply)
        self.assertEqual(harness.recv_exactly(queued, 6), b"queued")
        self.assertTrue(harness.echo_answers(("127.0.0.1", port)))
        first.close()
        queued.close()
        self.assertEqual(server.stop(), 0)

    def test_several_sockets_by_address_with_names(self):
        echo, stray, bound = harness.free_port(), harness.free_port(), harness.free_port()
        path = os.path.join(self.tmp, "echo.sock")
        config = base_config({
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{echo}", f"unix:{path}"]),
            # No socket passed for this one: bound as usual.
            "daytime": builtin_service("daytime", [f"tcp://127.0.0.1:{bound}"]),
        }, control={"socket": self.sock})
        # Passed in another order than the configuration lists them.
        server = self.activated(config, [path, f"127.0.0.1:{stray}", f"127.0.0.1:{echo}"],
                                names=["echo-unix", "stray", "echo-tcp"])
        trigger = self.start_by_connecting(server, echo)
        server.wait_for(rf"socket-adopted .*address=unix:{path}.*name=echo-unix|"
                        rf"socket-adopted .*name=echo-unix.*address=unix:{path}")
        server.wait_for(r"socket-unused .*stray")
        self.assertTrue(harness.echo_answers(path))
        self.assertTrue(harness.echo_answers(("127.0.0.1", echo)))
        with harness.connect(("127.0.0.1", bound)) as s:
            self.assertRegex(harness.recv_until_eof(s).decode(), r"\d{4}")
        # The unused socket was closed: nothing listens there any more.
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", stray), timeout=5).close()
        trigger.close()
        self.assertEqual(server.stop(), 0)
        # The socket file belongs to whoever passed it: not removed by us.
        self.assertTrue(os.path.exists(path))

    def test_a_socket_named_after_a_service_is_matched_to_it_by_name_and_address(self):
        echo, daytime = harness.free_port(), harness.free_port()
        path = os.path.join(self.tmp, "echo.sock")
        config = base_config({
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{echo}", f"unix:{path}"]),
            "daytime": builtin_service("daytime", [f"tcp://127.0.0.1:{daytime}"]),
        }, control={"socket": self.sock})
        server = self.activated(config, [f"127.0.0.1:{daytime}", path, f"127.0.0.1:{echo}"],
                                names=["daytime", "echo", "echo"])
        trigger = self.start_by_connecting(server, echo)
        for service, address in (("echo", f"tcp://127.0.0.1:{echo}"), ("echo", f"unix:{path}"),
                                 ("daytime", f"tcp://127.0.0.1:{daytime}")):
            line = server.wait_for(r"socket-adopted .*address=%s\b" % re.escape(address))
            self.assertIn(f"service={service}", line)
            self.assertIn("matched=name,address", line)
        self.assertTrue(harness.echo_answers(path))
        with harness.connect(("127.0.0.1", daytime)) as s:
            self.assertRegex(harness.recv_until_eof(s).decode(), r"\d{4}")
        trigger.close()
        self.assertEqual(server.stop(), 0)

    def test_a_socket_named_after_another_service_is_not_taken_by_address(self):
        # FileDescriptorName= says whose socket it is: a socket named
        # "daytime" bound to echo's address is a mistake in the units, and
        # echo must not serve on it as if nothing were wrong. Before names
        # were read, echo adopted it.
        echo, daytime = harness.free_port(), harness.free_port()
        config = base_config({
            "echo": builtin_service("echo", [f"tcp://127.0.0.1:{echo}"]),
            "daytime": builtin_service("daytime", [f"tcp://127.0.0.1:{daytime}"]),
        }, control={"socket": self.sock})
        server = self.activated(config, [f"127.0.0.1:{echo}"], names=["daytime"])
        trigger = socket.create_connection(("127.0.0.1", echo), timeout=5)
        self.addCleanup(trigger.close)
        self.assertNotEqual(server.wait_exit(), 0)
        log = server.log_text()
        self.assertRegex(log, rf"socket-not-adopted address=tcp://127\.0\.0\.1:{echo} name=daytime service=echo")
        self.assertRegex(log, rf"service echo: cannot bind tcp://127\.0\.0\.1:{echo}")
        self.assertNotIn("socket-adopted", log)

    def test_sockets_meant_for_another_process_are_ignored(self):
        port = harness.free_port()
        env = dict(os.environ, LISTEN_PID="1", LISTEN_FDS="1", LISTEN_FDNAMES="x")
        server = Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])}), env=env)
        self.addCleanup(server.stop)
        server.start()
        server.wait_for(r"listen-fds-ignored .*LISTEN_PID is not this process")
        self.assertTrue(harness.echo_answers(("127.0.0.1", port)))
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
