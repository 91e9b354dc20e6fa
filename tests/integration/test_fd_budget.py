"""The fd budget as a client sees it: a server started with a small
RLIMIT_NOFILE keeps serving the connections it has, leaves the rest waiting
in the kernel backlog instead of running into EMFILE, uses no CPU while it
waits, and accepts them as others close."""
import select
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, connect, recv_exactly

FD_LIMIT = 64
CLIENTS = 60


def echoed(socks, timeout):
    """The sockets among `socks` that have their b"ping" back within `timeout`."""
    got = {s: b"" for s in socks}
    done = []
    deadline = time.monotonic() + timeout
    while got:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        readable, _, _ = select.select(list(got), [], [], left)
        for s in readable:
            chunk = s.recv(4 - len(got[s]))
            if not chunk:
                raise AssertionError("a waiting connection was closed instead of served")
            got[s] += chunk
            if len(got[s]) == 4:
                assert got.pop(s) == b"ping"
                done.append(s)
    return done


class FdBudgetTests(unittest.TestCase):
    def test_small_fd_limit_pauses_accepting_and_resumes(self):
        port = harness.free_port()
        server = Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])}),
                        preexec_fn=harness.limit_fds(FD_LIMIT))
        self.addCleanup(server.__exit__)
        ready = server.start().wait_for(r"\bready\b")
        self.assertIn(f"fd_limit={FD_LIMIT}", ready)
        addr = ("127.0.0.1", port)

        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(CLIENTS):
            s = connect(addr)
            s.sendall(b"ping")
            socks.append(s)
        served = echoed(socks, timeout=3)
        waiting = [s for s in socks if s not in served]
        self.assertGreater(len(served), 0, "nothing was served")
        self.assertGreater(len(waiting), 0, f"all {CLIENTS} served within {FD_LIMIT} fds")
        self.assertLess(harness.fd_count(server.pid), FD_LIMIT)

        # Paused, not spinning.
        cpu0 = harness.cpu_seconds(server.pid)
        time.sleep(2)
        used = harness.cpu_seconds(server.pid) - cpu0
        self.assertLess(used, 0.2, f"{used:.2f}s of CPU in 2s while paused")
        self.assertEqual(echoed(waiting, timeout=0.2), [], "served past the budget")

        # What it has, it keeps serving.
        for s in served:
            s.sendall(b"more")
            self.assertEqual(recv_exactly(s, 4, timeout=5), b"more")

        # As connections close, the waiting ones are accepted and served.
        open_served = list(served)
        deadline = time.monotonic() + 30
        while waiting:
            self.assertLess(time.monotonic(), deadline, f"{len(waiting)} connections never served")
            for s in open_served[:10]:
                s.close()
            open_served = open_served[10:]
            newly = echoed(waiting, timeout=3)
            self.assertTrue(newly or open_served, "closing connections let no waiting one in")
            waiting = [s for s in waiting if s not in newly]
            open_served += newly
        for s in open_served:
            s.close()

        # Afterwards, fresh connections are served at once.
        with connect(addr) as s:
            s.sendall(b"after")
            self.assertEqual(recv_exactly(s, 5, timeout=5), b"after")

        # It paused before the table was full: accept4 never failed.
        log = server.log_text()
        self.assertNotIn("Too many open files", log)
        self.assertIsNone(server.proc.poll())
        self.assertEqual(server.stop(), 0, log[-3000:])


if __name__ == "__main__":
    harness.main()
