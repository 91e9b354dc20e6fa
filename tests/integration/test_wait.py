"""exec with "wait": true — one child owns the listening socket: inetd
style at fd 0, systemd style at fd 3 with LISTEN_FDS/LISTEN_PID/
LISTEN_FDNAMES; TCP, UDP (a real tftp server and client) and UNIX; a child
that keeps failing is restarted with growing backoff."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, connect, recv_until_eof

PROGRAMS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")


def prog(name):
    return os.path.join(PROGRAMS, name)


class WaitTests(unittest.TestCase):
    def test_inetd_wait_tcp_serves_one_connection_per_child(self):
        port = harness.free_port()
        cfg = base_config({"w": {"listen": [f"tcp://127.0.0.1:{port}"],
                                 "exec": {"argv": [prog("inetd_wait.py")], "wait": True}}})
        with Server(cfg) as server:
            server.start()
            pids = []
            for _ in range(3):
                with connect(("127.0.0.1", port)) as s:
                    m = re.match(rb"wait-child pid=(\d+)", recv_until_eof(s))
                    self.assertIsNotNone(m)
                    pids.append(m.group(1))
            self.assertEqual(len(set(pids)), 3, "each connection should have been served by a new child")
            self.assertEqual(server.stop(), 0)

    def test_systemd_socket_activation_tcp_and_unix(self):
        port = harness.free_port()
        path = os.path.join(tempfile.mkdtemp(prefix="sb-wait-"), "act.sock")
        cfg = base_config({
            "act": {"listen": [f"tcp://127.0.0.1:{port}"],
                    "exec": {"argv": [prog("socket_activated.py")], "wait": True, "fds": "systemd"}},
            "act-unix": {"listen": [f"unix:{path}"],
                         "exec": {"argv": [prog("socket_activated.py")], "wait": True, "fds": "systemd"}},
        })
        with Server(cfg) as server:
            server.start()
            for addr, name in ((("127.0.0.1", port), "act"), (path, "act-unix")):
                with connect(addr) as s:
                    s.sendall(b"first\n")
                    first = recv_until_eof(s)
                self.assertRegex(first, rb"^activated pid=\d+ names=" + name.encode() + rb" got=first")
                with connect(addr) as s:
                    s.sendall(b"quit\n")
                    second = recv_until_eof(s)
                # The same daemon served both: it owns the socket while it lives.
                self.assertEqual(first.split()[1], second.split()[1])
            self.assertEqual(server.stop(), 0)

    @unittest.skipUnless(os.path.exists("/usr/sbin/in.tftpd") and shutil.which("tftp"), "tftpd-hpa/tftp-hpa missing")
    def test_tftp_over_udp_wait(self):
        root = tempfile.mkdtemp(prefix="sb-tftp-")
        payload = os.urandom(200000)
        with open(os.path.join(root, "boot.img"), "wb") as f:
            f.write(payload)
        port = harness.free_port()
        cfg = base_config({"tftp": {"listen": [f"udp://127.0.0.1:{port}"],
                                    "exec": {"argv": ["/usr/sbin/in.tftpd", "-s", root, "-u", "root"],
                                             "wait": True}}})
        out = os.path.join(tempfile.mkdtemp(prefix="sb-tftp-out-"), "got.img")
        with Server(cfg) as server:
            server.start()
            for _ in range(2):  # the second fetch needs the listener watched again
                if os.path.exists(out):
                    os.unlink(out)
                r = subprocess.run(["tftp", "127.0.0.1", str(port), "-m", "binary", "-c", "get", "boot.img", out],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
                with open(out, "rb") as f:
                    self.assertEqual(f.read(), payload)
            self.assertEqual(server.stop(), 0)

    def test_udp_wait_admission_is_judged_per_datagram(self):
        # A refused source never starts a child; an allowed one does.
        port = harness.free_port()
        cfg = base_config({"uw": {"listen": [f"udp://127.0.0.1:{port}"],
                                  "exec": {"argv": [prog("udp_wait.py")], "wait": True},
                                  "deny": ["127.0.0.2"]}})
        with Server(cfg) as server:
            server.start()
            addr = ("127.0.0.1", port)
            self.assertIsNone(harness.udp_request(addr, b"no", timeout=0.7, source=("127.0.0.2", 0)))
            server.wait_for(r"\breject\b.*service=uw.*peer=127\.0\.0\.2:\d+.*reason=denied")
            reply = harness.udp_request(addr, b"yes", timeout=5, source=("127.0.0.3", 0))
            self.assertRegex(reply or b"", rb"^pid=\d+ got=yes$")
            self.assertNotIn(b"got=no", reply)
            self.assertEqual(server.stop(), 0)

    def test_failing_child_is_restarted_with_growing_backoff(self):
        port = harness.free_port()
        cfg = base_config({"flaky": {"listen": [f"tcp://127.0.0.1:{port}"],
                                     "exec": {"argv": [prog("quick_exit.sh")], "wait": True}}})
        with Server(cfg) as server:
            server.start()
            s = connect(("127.0.0.1", port))  # stays in the backlog; each child dies without accepting
            delays = []
            mark = 0
            for _ in range(3):
                line = server.wait_for(r"backoff.*service=flaky", start=mark, timeout=15)
                mark = server.lines.index(line) + 1
                delays.append(float(re.search(r"delay=([\d.]+)", line).group(1)))
            s.close()
            self.assertTrue(delays[0] < delays[1] < delays[2], delays)
            self.assertEqual(server.stop(), 0)


class RsyncTests(unittest.TestCase):
    @unittest.skipUnless(shutil.which("rsync"), "rsync missing")
    def test_rsync_daemon_over_socket_mode(self):
        root = tempfile.mkdtemp(prefix="sb-rsync-")
        os.makedirs(os.path.join(root, "pub"))
        with open(os.path.join(root, "pub", "hello.txt"), "w") as f:
            f.write("hi\n")
        conf = os.path.join(root, "rsyncd.conf")
        with open(conf, "w") as f:
            f.write(f"use chroot = no\n[pub]\n  path = {root}/pub\n  comment = public files\n  read only = yes\n")
        port = harness.free_port()
        cfg = base_config({"rsync": {"listen": [f"tcp://127.0.0.1:{port}"],
                                     "exec": {"argv": [shutil.which("rsync"), "--daemon", f"--config={conf}"],
                                              "io": "socket"}}})
        with Server(cfg) as server:
            server.start()
            r = subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"pub\s+public files")
            r = subprocess.run(["rsync", f"rsync://127.0.0.1:{port}/pub/"], capture_output=True, text=True,
                               timeout=30)
            self.assertIn("hello.txt", r.stdout)
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
