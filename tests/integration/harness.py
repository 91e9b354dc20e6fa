"""What the integration tests share: start the real switchboard binary on a
configuration, read its log, talk to it over loopback sockets.

Every wait here is bounded; a test that hangs is a failed test.
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

SWITCHBOARD = os.environ.get("SWITCHBOARD", os.path.join(os.path.dirname(__file__), "../../build/switchboard"))
SOURCE_ROOT = os.environ.get("SB_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "../.."))


# Ports handed out by this process: never the same one twice, even after the
# probe socket is closed (the kernel's bind(0) can return a port it just gave).
_ports_given = set()


def free_port(host="127.0.0.1", udp_too=True):
    """A port free for TCP (and UDP) on host, never one this process gave before.

    Drawn at random below the kernel's ephemeral range (32768 and up on Linux),
    so the source port of a test's own outgoing connection cannot take it
    between this probe and the server's bind."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32768)
        if port in _ports_given:
            continue
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.bind((host, port))
            if udp_too:
                with socket.socket(family, socket.SOCK_DGRAM) as u:
                    u.bind((host, port))
        except OSError:
            continue
        _ports_given.add(port)
        return port
    raise RuntimeError("no free port")


def sanitized():
    """True in the AddressSanitizer run of `make test` (it sets ASAN_OPTIONS):
    memory figures there include the sanitizer's shadow and allocator."""
    return "ASAN_OPTIONS" in os.environ


def without_asan_quarantine():
    """An environment for the server in which freed memory is returned at
    once under AddressSanitizer (its quarantine would look like growth)."""
    env = dict(os.environ)
    if sanitized():
        env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS", ""), "quarantine_size_mb=0"]))
    return env


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Server:
    """One switchboard process on a configuration written to a temp dir."""

    def __init__(self, config, name="switchboard.json", args=(), env=None, preexec_fn=None, prefix=()):
        self.dir = tempfile.mkdtemp(prefix="sb-test-")
        self.path = os.path.join(self.dir, name)
        self.write_config(config)
        self.args = list(args)
        self.env = env
        self.preexec_fn = preexec_fn
        self.prefix = list(prefix)  # a launcher that execs the server (systemd-socket-activate)
        self.proc = None
        self.lines = []
        self.cond = threading.Condition()

    def write_config(self, config, path=None):
        """Replaces the file whole, as editors do (write, then rename), so a
        reload that reads it meanwhile sees the old text or the new one,
        never a half-written file."""
        target = path or self.path
        with open(target + ".partial", "w") as f:
            if isinstance(config, str):
                f.write(config)
            else:
                json.dump(config, f, indent=2)
        os.replace(target + ".partial", target)

    def start(self, wait_ready=True, timeout=10):
        self.proc = subprocess.Popen(
            self.prefix + [SWITCHBOARD, "run", "-c", self.path] + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=self.env, preexec_fn=self.preexec_fn)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if wait_ready:
            self.wait_for(r"\bready\b", timeout=timeout)
        return self

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if os.environ.get("SB_TEST_VERBOSE"):
                print("  | " + line, flush=True)
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=10, start=0):
        """The first log line from index `start` on matching `pattern`."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    if rx.search(self.lines[i]):
                        return self.lines[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and i >= len(self.lines)):
                    raise AssertionError(f"no log line matching {pattern!r} within {timeout}s; log:\n"
                                         + "\n".join(self.lines[-40:]))
                self.cond.wait(min(left, 0.2))

    def log_mark(self):
        with self.cond:
            return len(self.lines)

    def log_text(self):
        with self.cond:
            return "\n".join(self.lines)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Stops the server and returns its exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not exit within %ss; log:\n%s" % (timeout, self.log_text()[-4000:]))

    def wait_exit(self, timeout=15):
        code = self.proc.wait(timeout)
        # The log's last lines may still be in the pipe: read them before
        # anyone looks at the log of a server that has exited.
        self.reader.join(timeout)
        return code

    @property
    def pid(self):
        return self.proc.pid

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_cli(*args, timeout=20, input=None):
    return subprocess.run([SWITCHBOARD] + list(args), capture_output=True, text=True, timeout=timeout, input=input)


def connect(addr, timeout=5):
    if isinstance(addr, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        s = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def recv_exactly(s, n, timeout=10):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(min(65536, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def recv_until_eof(s, timeout=10, limit=1 << 24):
    s.settimeout(timeout)
    out = bytearray()
    while len(out) < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    return bytes(out)


def udp_request(addr, payload, timeout=2, source=None):
    family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as u:
        if source is not None:
            u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            u.bind(source)
        u.settimeout(timeout)
        u.sendto(payload, addr)
        try:
            return u.recvfrom(65536)[0]
        except socket.timeout:
            return None


def builtin_service(kind, listen, **extra):
    d = {"listen": listen, "builtin": kind}
    d.update(extra)
    return d


def base_config(services, tmpdir=None, **extra):
    cfg = {"control": {"socket": ""}, "log": {"level": "info"}, "services": services}
    cfg.update(extra)
    return cfg


def main():
    unittest.main(verbosity=2)


# ---- admission and fd budget helpers ------------------------------------------

# Lets many sockets bound to one source address share ephemeral ports: the
# port is chosen at connect() time, per destination (Linux 4.2+).
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def connect_from(addr, source, timeout=5):
    """A TCP connection to addr from the loopback address `source` ("127.0.0.2")."""
    s = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def recv_some(s, n, timeout):
    """Up to n bytes, stopping at EOF or after `timeout` seconds; None if nothing came in time."""
    s.settimeout(timeout)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            chunk = s.recv(n - len(out))
            if not chunk:
                return bytes(out)
            out += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        return bytes(out)
    return bytes(out) if out else None


def cpu_seconds(pid):
    """User plus system CPU time the process has used so far, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After "pid (comm)": state is field 3; utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def limit_fds(n):
    """A preexec_fn for Server: the process starts with RLIMIT_NOFILE = (n, n)."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return apply


def raise_own_fd_limit():
    """Lets the test process itself hold many sockets."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- The control socket (test_control.py, test_reload.py) ---------------------

def control_socket_path():
    """A fresh control socket path in its own temporary directory."""
    return os.path.join(tempfile.mkdtemp(prefix="sb-ctl-"), "control.sock")


def ctl(sock, *args, timeout=20):
    """Runs `switchboard ctl -s SOCK ARGS...`."""
    return run_cli("ctl", "-s", sock, *args, timeout=timeout)


def ctl_json(sock, *args, timeout=20):
    """(exit code, parsed reply) of `switchboard ctl -s SOCK --json ARGS...`."""
    r = ctl(sock, "--json", *args, timeout=timeout)
    return r.returncode, json.loads(r.stdout)


def control_exchange(sock, payload, timeout=5):
    """Sends raw bytes to the control socket and returns what came back
    until the server closed the connection or `timeout` passed."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    try:
        s.sendall(payload)
        out = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return bytes(out)
    finally:
        s.close()


def echo_answers(addr, payload=b"ping", timeout=1.0):
    """True when a new connection to addr echoes payload back within timeout;
    False when it is refused, reset, closed or left unanswered."""
    try:
        s = connect(addr, timeout=timeout)
    except OSError:
        return False
    try:
        s.sendall(payload)
        return recv_exactly(s, len(payload), timeout=timeout) == payload
    except OSError:
        return False
    finally:
        s.close()
