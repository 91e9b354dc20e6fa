#!/usr/bin/env python3
"""switchboard's benchmark: `make bench` (or `meson test --benchmark`).

Measures the figures of DESIGN.md §9, each beside a bare reference started
in the same run (the machines are noisy, so only same-run ratios mean
anything; sides are measured in alternating rounds and the medians compared),
and prints one table:

  echo        built-in echo round trips/s, 100 connections, 64 B,
              vs sb-ref-echo (bare epoll echo server)          target >= 0.9x
  idle        idle connections held on built-in echo, all answering
              afterwards, and switchboard's RSS growth per connection
                                                   target 19,000; <= 1 KiB each
  spawn       exec spawn rate, trivial child (sb-hello), 16 clients,
              io "socket" and io "splice", vs sb-ref-spawn (accept +
              posix_spawn, what tcpserver does)       target >= 1.0x / >= 0.85x
  throughput  one connection through a /bin/cat child, io "splice" vs
              io "socket"                                      target >= 0.5x
  forward     one iperf3 stream through a redirect service, beside the same
              stream direct and through haproxy in TCP mode with splicing
              (option splice-request/splice-response)
                                      target >= 1.0x haproxy, >= 0.6x direct
  forward-idle
              idle connections held through a redirect service to
              sb-ref-echo (2 fds each in the forwarder: 8,000, or what half
              the hard fd limit allows), all answering afterwards, and the
              forwarder's RSS growth per connection; beside haproxy (TCP
              mode) holding the same number          target <= 1 KiB each
  forward-churn
              connection churn through a redirect service to sb-ref-echo vs
              haproxy in TCP mode (nbthread 1): 4 clients each connect, echo
              one byte, reset, in a loop; connections/s and the server's CPU
              per connection                           no target: reported
  reload      SIGHUP reloads of 1,000 built-in services on unchanged
              listeners: the server's "reloaded ... ms=" log line, and the
              wall time until that line appears, while a client connects in
              a loop to one of the services        target <= 100 ms, 0 refused

It builds nothing (the Makefile builds first) and needs only the Python
standard library. A figure that cannot be measured (the binary is missing,
the server refuses the configuration, a feature has not landed) prints
"n/a (reason)" and the rest go on; the exit status is 0 whenever the
benchmark itself ran. Every measurement is bounded in time; a full run takes
about two minutes, --quick well under one.

  python3 tests/bench/run.py --build build-release [--quick] [--only echo,idle,forward-churn]
                             [--rounds N] [--seconds S] [--keep]

The load generator and the reference servers are the C programs beside this
file (load.c, ref_echo.c, ref_spawn.c, hello.c); each documents itself.
"""
import argparse
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

FIGURES = ["echo", "idle", "spawn", "throughput", "forward", "forward-idle", "forward-churn", "reload"]
IDLE_TARGET = 19000


class Unavailable(Exception):
    """A figure (or one side of it) that cannot be measured; the message says why."""


# ---- processes ---------------------------------------------------------------


def free_ports(count):
    """count distinct TCP ports free on 127.0.0.1, as the kernel hands them out."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Unavailable(f"no VmRSS for pid {pid}")


def cpu_seconds(pid):
    """CPU time the process has used, summed over its threads (haproxy runs
    several; switchboard and the references one): schedstat's nanoseconds
    where the kernel has them, else utime + stime in clock ticks."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except FileNotFoundError:
                pass  # the thread ended meanwhile
        return total / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def port_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def write_json(path, data):
    """Writes by rename, as an editor would, so a reload never reads half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


class Server:
    """A server process (switchboard or a reference), its output in a file."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=workdir)
        self.tail_offset = 0

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def new_output(self):
        """Whole lines written since the last call."""
        with open(self.log_path, "rb") as f:
            f.seek(self.tail_offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.tail_offset += end
        return data[:end].decode(errors="replace")

    def last_lines(self, n=2):
        """The last n lines of output, without their timestamps."""
        lines = [re.sub(r"^\d{4}-\d\d-\d\dT\S+\s+", "", line.strip())
                 for line in self.output().splitlines() if line.strip()]
        return " | ".join(lines[-n:]) if lines else "no output"

    def check_alive(self):
        if self.proc.poll() is not None:
            raise Unavailable(f"{self.name} exited with status {self.proc.returncode}: {self.last_lines()}")

    def wait_ready(self, probe_port=None, timeout=15.0):
        """Ready when the output says "ready" or (when given) the port accepts.
        The probe matters: at log level "warning" switchboard prints no ready line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if re.search(r"(^|\s)ready(\s|$)", self.output(), re.M):
                return
            if probe_port is not None and port_answers(probe_port):
                return
            time.sleep(0.05)
        self.check_alive()
        raise Unavailable(f"{self.name} not ready after {timeout:.0f} s: {self.last_lines()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def parse_result(text):
    """sb-load's "result key=value ..." line as a dict (numbers as floats)."""
    for line in reversed(text.splitlines()):
        if line.startswith("result "):
            out = {}
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                try:
                    out[key] = float(value)
                except ValueError:
                    out[key] = value
            return out
    raise Unavailable("sb-load printed no result: " + (text.strip().splitlines() or ["nothing"])[-1])


class Bench:
    """One run: where the binaries are, the servers it started, the table it fills."""

    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.switchboard = os.path.join(self.build, "switchboard")
        tools = os.path.join(self.build, "tests", "bench")
        self.load = os.path.join(tools, "sb-load")
        self.ref_echo = os.path.join(tools, "sb-ref-echo")
        self.ref_spawn = os.path.join(tools, "sb-ref-spawn")
        self.hello = os.path.join(tools, "sb-hello")
        self.workdir = tempfile.mkdtemp(prefix="sb-bench-")
        self.servers = []
        self.rows = []   # (what, switchboard, reference, ratio, target, met)
        self.notes = []
        # Short rounds, many of them: neighbours in time share the machine's
        # load, so pairing them round by round cancels most of it.
        self.rounds = args.rounds or (1 if args.quick else 5)
        self.seconds = args.seconds or 1.0

    def start(self, name, argv):
        server = Server(name, argv, self.workdir)
        self.servers.append(server)
        return server

    def stop_all(self):
        for server in self.servers:
            server.stop()
        self.servers = []

    def reference(self, name, argv):
        server = self.start(name, argv)
        server.wait_ready()
        return server

    def switchboard_with(self, name, services, probe_port=None, level="warning", control=""):
        """switchboard on a configuration of its own; Unavailable if it will not serve it."""
        if not os.access(self.switchboard, os.X_OK):
            raise Unavailable(f"no switchboard binary at {self.switchboard}")
        config = {"control": {"socket": control}, "log": {"format": "text", "level": level}, "services": services}
        path = os.path.join(self.workdir, name + ".json")
        write_json(path, config)
        server = self.start(name, [self.switchboard, "run", "-c", path])
        server.wait_ready(probe_port, timeout=60)
        return server

    def run_load(self, mode, port, *extra, timeout):
        cmd = [self.load, mode, "-p", str(port)] + [str(x) for x in extra]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Unavailable(f"sb-load {mode} did not finish in {timeout:.0f} s")
        result = parse_result(done.stdout + done.stderr)
        if isinstance(result.get("error"), str):
            raise Unavailable(f"sb-load {mode}: {result['error']}")
        return result

    # -- the table --

    def row(self, what, sb, ref, ratio, target, met):
        self.rows.append((what, sb, ref, ratio, target, met))

    def na_cell(self, what, reason):
        """"n/a (reason)", shortened for the table; the whole reason goes to the notes."""
        if len(reason) <= 90:
            return f"n/a ({reason})"
        self.notes.append(f"{what}: n/a because {reason}")
        return f"n/a ({reason[:87]}...)"

    def na(self, what, reason, target):
        self.row(what, self.na_cell(what, reason), "", "", target, "-")


def yes_no(ok):
    return "yes" if ok else "NO"


def fmt_rate(x):
    return f"{x:,.0f}"


# ---- comparing sides -----------------------------------------------------------


class Sides:
    """The servers one figure compares: each side is a name and a port, or the
    reason it could not be started. Measuring alternates the sides round by
    round, so drift in the machine's load hits them alike; a side that fails
    is dropped with its reason and the others go on."""

    def __init__(self, bench):
        self.bench = bench
        self.ports = {}
        self.servers = {}
        self.problems = {}
        self.samples = {}
        self.cpu = {}
        self.medians = {}

    def add(self, name, port, start):
        """start() returns the running Server or raises Unavailable."""
        try:
            self.servers[name] = start()
            self.ports[name] = port
        except Unavailable as e:
            self.problems[name] = str(e)

    def measure(self, measure_one):
        """measure_one(name, port) -> (figure, operations); the server's CPU
        time per operation is kept too, a figure the machine's load disturbs
        far less than rates."""
        self.samples = {name: [] for name in self.ports}
        self.cpu = {name: [] for name in self.ports}
        for _ in range(self.bench.rounds):
            for name in list(self.ports):
                pid = self.servers[name].pid
                try:
                    cpu_before = cpu_seconds(pid)
                    figure, operations = measure_one(name, self.ports[name])
                    self.samples[name].append(figure)
                    if operations:
                        self.cpu[name].append((cpu_seconds(pid) - cpu_before) / operations * 1e6)
                except OSError as e:
                    raise Unavailable(f"{name}: cannot read /proc/{pid}: {e}")
                except Unavailable as e:
                    # The server's last words usually say why.
                    self.problems[name] = f"{e}; log: {self.servers[name].last_lines(1)}"
                    del self.ports[name]
                    del self.samples[name]
        self.medians = {name: statistics.median(v) for name, v in self.samples.items() if v}

    def cell(self, what, name, fmt):
        if name in self.medians:
            return fmt(self.medians[name])
        return self.bench.na_cell(what, self.problems.get(name, "not measured"))

    def ratio_row(self, what, sb, ref, target, minimum, fmt=fmt_rate):
        """One table row: side sb against side ref, met when sb/ref >= minimum."""
        ratio, met = "", "-"
        if sb in self.medians and self.medians.get(ref):
            # Pair the sides round by round: neighbours in time share the
            # machine's mood, so the median of the pairs' ratios is steadier
            # than the ratio of the medians.
            pairs = [a / c for a, c in zip(self.samples[sb], self.samples[ref]) if c]
            r = statistics.median(pairs) if len(pairs) == len(self.samples[sb]) else \
                self.medians[sb] / self.medians[ref]
            ratio, met = f"{r:.2f}x", yes_no(r >= minimum)
        self.bench.row(what, self.cell(what, sb, fmt), self.cell(what, ref, fmt), ratio, target, met)

    def samples_note(self, label, fmt=fmt_rate, per=""):
        if self.samples:
            self.bench.notes.append(f"{label} samples: " + "; ".join(
                f"{name} " + ", ".join(fmt(x) for x in v) for name, v in self.samples.items()))
        cpu = {name: statistics.median(v) for name, v in self.cpu.items() if v and name in self.samples}
        if per and cpu:
            self.bench.notes.append(f"server CPU per {per} (median): " + "; ".join(
                f"{name} {us:,.1f} µs" for name, us in cpu.items()))


# ---- figures -----------------------------------------------------------------


def figure_echo(b):
    ref_port, sb_port = free_ports(2)
    sides = Sides(b)
    sides.add("reference", ref_port, lambda: b.reference("ref-echo", [b.ref_echo, "-p", str(ref_port)]))
    sides.add("switchboard", sb_port, lambda: b.switchboard_with(
        "echo", {"echo": {"listen": [f"tcp://127.0.0.1:{sb_port}"], "builtin": "echo",
                          # all 100 connections come from 127.0.0.1: lift the default of 40
                          "per_source": 1000}}, probe_port=sb_port))
    errors = []

    def measure(name, port):
        r = b.run_load("echo", port, "-c", 100, "-s", 64, "-d", b.seconds, "-W", 0.5, timeout=b.seconds + 20)
        if r["errors"] or r["mismatches"]:
            errors.append(f"{name}: errors={r['errors']:.0f} mismatches={r['mismatches']:.0f}")
        return r["rate"], r["all_round_trips"]

    sides.measure(measure)
    sides.ratio_row("echo round trips/s, 100 conns, 64 B", "switchboard", "reference", ">= 0.90x bare epoll", 0.9)
    sides.samples_note("echo round trips/s", per="round trip")
    if errors:
        b.notes.append("echo errors: " + "; ".join(errors))


def hold_idle(b, server, port, count):
    """Opens up to count idle connections to server and measures its RSS and
    fds while they are held, then has sb-load check every one still echoes.
    Returns (sb-load's result, RSS growth in KiB, fds gained)."""
    time.sleep(0.3)
    rss_before, fds_before = rss_kib(server.pid), fd_count(server.pid)
    proc = subprocess.Popen([b.load, "idle", "-p", str(port), "-n", str(count), "-w", "-t", "30"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)

    def read_until(prefix, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if sel.select(timeout=1.0):
                line = proc.stdout.readline()
                if not line:
                    return ""
                if line.startswith(prefix):
                    return line
        return ""

    try:
        if not read_until("holding", 45):
            raise Unavailable("sb-load idle never reported holding its connections")
        # Let the server accept what is still in its backlog before measuring.
        time.sleep(1.0)
        server.check_alive()
        rss_after, fds_after = rss_kib(server.pid), fd_count(server.pid)
        proc.stdin.write("go\n")
        proc.stdin.close()
        out = read_until("result", 40)
        if not out:
            raise Unavailable("sb-load idle did not finish verifying in time")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    server.check_alive()
    return parse_result(out), rss_after - rss_before, fds_after - fds_before


def idle_cells(b, what, results, problems):
    """The table cells of a hold_idle() figure, per side: "held / answered"
    and the RSS growth per connection (or why the side has none)."""
    def held_cell(name):
        if name not in results:
            return b.na_cell(what, problems[name])
        r = results[name][0]
        return f"{r['held']:,.0f} / {r['answered']:,.0f}"

    def rss_cell(name):
        if name not in results:
            return "n/a"
        r, rss, _ = results[name]
        return f"{rss * 1024 / max(r['answered'], 1):,.0f} B"

    return held_cell, rss_cell


def figure_idle(b):
    what = "idle conns held / answered"
    what_rss = "RSS growth per idle conn"
    target = f"{IDLE_TARGET:,}, all answer"
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    count = IDLE_TARGET
    if hard != resource.RLIM_INFINITY and hard - 64 < IDLE_TARGET:
        count = hard - 64
        b.notes.append(f"idle: the hard fd limit is {hard}, so {count:,} connections were tried, not {IDLE_TARGET:,}")
    results = {}
    problems = {}
    for name in ("reference", "switchboard"):
        port = free_ports(1)[0]
        try:
            if name == "reference":
                server = b.reference("ref-idle", [b.ref_echo, "-p", str(port)])
            else:
                server = b.switchboard_with(
                    "idle", {"echo": {"listen": [f"tcp://127.0.0.1:{port}"], "builtin": "echo"}}, probe_port=port)
            results[name] = hold_idle(b, server, port, count)
        except Unavailable as e:
            problems[name] = str(e)
        finally:
            b.stop_all()  # one at a time: each side needs the fds

    held_cell, rss_cell = idle_cells(b, what, results, problems)

    sb = results.get("switchboard")
    met = "-"
    ratio = ""
    if sb:
        r = sb[0]
        met = yes_no(r["answered"] >= count and r["held"] == r["answered"])
        ref = results.get("reference")
        if ref and ref[0]["answered"]:
            ratio = f"{r['answered'] / ref[0]['answered']:.2f}x"
    b.row(what, held_cell("switchboard"), held_cell("reference"), ratio, target, met)
    per_conn = sb[1] * 1024 / max(sb[0]["answered"], 1) if sb else None
    b.row(what_rss, rss_cell("switchboard"), rss_cell("reference"), "", "<= 1,024 B",
          yes_no(per_conn <= 1024) if sb else "-")
    if sb:
        r, rss, fds = sb
        b.notes.append(f"idle: switchboard's RSS grew {rss:,} KiB and it gained {fds:,} fds holding "
                       f"{r['held']:,.0f} connections (lost {r['lost']:.0f}, unanswered {r['unanswered']:.0f}, "
                       f"connect failures {r['failed']:.0f}, opening stopped by: {r['stopped']}); "
                       f"fd limit {r['nofile']:.0f} for sb-load, hard limit {hard}")


def figure_spawn(b):
    if not os.access(b.hello, os.X_OK):
        raise Unavailable(f"no {b.hello}")
    ref_port, socket_port, splice_port = free_ports(3)
    sides = Sides(b)
    sides.add("reference", ref_port, lambda: b.reference(
        "ref-spawn", [b.ref_spawn, "-p", str(ref_port), "-m", "256", "--", b.hello]))
    for io, port in (("socket", socket_port), ("splice", splice_port)):
        service = {"listen": [f"tcp://127.0.0.1:{port}"], "exec": {"argv": [b.hello], "io": io},
                   "max_connections": 256, "per_source": 256}
        sides.add(io, port, lambda io=io, port=port, service=service: b.switchboard_with(
            f"spawn-{io}", {"hello": service}, probe_port=port))
    errors = []

    def measure(name, port):
        r = b.run_load("spawn", port, "-c", 16, "-d", b.seconds, "-W", 0.5, timeout=b.seconds + 25)
        if r["errors"]:
            errors.append(f"{name}: {r['errors']:.0f} failed connections (refused {r['refused']:.0f}, "
                          f"no bytes {r['empty']:.0f}, timeouts {r['timeouts']:.0f})")
        if r["connections"] == 0:
            raise Unavailable(f"all {r['errors']:.0f} connections failed")
        return r["rate"], r["all_connections"] + r["errors"]

    sides.measure(measure)
    sides.ratio_row("exec spawns/s, io socket, 16 clients", "socket", "reference", ">= 1.00x posix_spawn", 1.0)
    sides.ratio_row("exec spawns/s, io splice, 16 clients", "splice", "reference", ">= 0.85x posix_spawn", 0.85)
    sides.samples_note("spawns/s", per="connection")
    if errors:
        b.notes.append("spawn errors: " + "; ".join(errors[:6]))


def figure_throughput(b):
    cat = shutil.which("cat") or "/bin/cat"
    size = (256 if b.args.quick else 1024) * 1024 * 1024
    limit = 3.0 if b.args.quick else 4.0
    sides = Sides(b)
    for io, port in zip(("socket", "splice"), free_ports(2)):
        service = {"listen": [f"tcp://127.0.0.1:{port}"], "exec": {"argv": [cat], "io": io}}
        sides.add(io, port, lambda io=io, port=port, service=service: b.switchboard_with(
            f"cat-{io}", {"cat": service}, probe_port=port))
    incomplete = []

    def measure(name, port):
        r = b.run_load("throughput", port, "-b", size, "-d", limit, timeout=limit + 20)
        if r["mismatches"]:
            raise Unavailable(f"the bytes came back changed ({r['mismatches']:.0f} bad reads)")
        if r["early_eof"] or r["io_error"]:
            raise Unavailable(f"connection {'reset' if r['io_error'] else 'closed'} after "
                              f"{r['received']:,.0f} of {r['bytes']:,.0f} bytes")
        if not r["complete"]:
            incomplete.append(f"io {name}: {r['received'] / 2**20:,.0f} of {size / 2**20:,.0f} MiB "
                              f"in the {limit:.0f} s limit")
        return r["rate_mib"], r["received"] / 2**20

    sides.measure(measure)
    sides.ratio_row("cat MiB/s, 1 conn, splice vs socket", "splice", "socket", ">= 0.50x io socket", 0.5)
    sides.samples_note("throughput MiB/s", per="MiB")
    if incomplete:
        b.notes.append("throughput (rate of what arrived): " + "; ".join(incomplete))


def iperf3_gbits(port, seconds):
    """One iperf3 stream to 127.0.0.1:port for `seconds`: received Gbit/s."""
    iperf3 = shutil.which("iperf3")
    try:
        done = subprocess.run([iperf3, "-c", "127.0.0.1", "-p", str(port), "-t", f"{seconds:g}", "-J"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=seconds + 20)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"iperf3 did not finish in {seconds + 20:.0f} s")
    try:
        result = json.loads(done.stdout)
    except ValueError:
        raise Unavailable("iperf3 printed no JSON: " + (done.stderr.strip() or done.stdout.strip())[-200:])
    if "error" in result:
        raise Unavailable("iperf3: " + result["error"])
    received = result["end"]["sum_received"]
    return received["bits_per_second"] / 1e9, received["bytes"] / 2**20


def find_haproxy():
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None)


def start_haproxy(b, name, port, target_port, maxconn=1000, splice=False, nbthread=0):
    """haproxy in TCP mode forwarding 127.0.0.1:port to 127.0.0.1:target_port;
    nbthread 0 leaves haproxy's default (one thread per CPU)."""
    haproxy = find_haproxy()
    if haproxy is None:
        raise Unavailable("haproxy is not installed")
    cfg = os.path.join(b.workdir, name + ".cfg")
    with open(cfg, "w") as f:
        f.write(f"""global
  maxconn {maxconn}
""" + (f"  nbthread {nbthread}\n" if nbthread else "") + f"""defaults
  mode tcp
  maxconn {maxconn}
  timeout connect 5s
  timeout client 60s
  timeout server 60s
""" + ("""  option splice-request
  option splice-response
""" if splice else "") + f"""listen forward
  bind 127.0.0.1:{port}
  server target 127.0.0.1:{target_port}
""")
    server = b.start(name, [haproxy, "-db", "-f", cfg])
    server.wait_ready(probe_port=port)
    return server


def figure_forward(b):
    iperf3 = shutil.which("iperf3")
    if iperf3 is None:
        raise Unavailable("iperf3 is not installed")
    seconds = 1.0 if b.args.quick else max(2.0, b.seconds * 2)
    target_port, sb_port, ha_port = free_ports(3)
    target = b.start("iperf3", [iperf3, "-s", "-p", str(target_port)])
    target.wait_ready(probe_port=target_port)
    sides = Sides(b)
    sides.add("direct", target_port, lambda: target)
    sides.add("switchboard", sb_port, lambda: b.switchboard_with(
        "forward", {"fwd": {"listen": [f"tcp://127.0.0.1:{sb_port}"],
                            "redirect": {"to": f"tcp://127.0.0.1:{target_port}"}}}, probe_port=sb_port))

    sides.add("haproxy", ha_port, lambda: start_haproxy(b, "haproxy", ha_port, target_port, splice=True))

    def measure(name, port):
        return iperf3_gbits(port, seconds)

    sides.measure(measure)
    fmt = lambda x: f"{x:.2f} Gbit/s"
    sides.ratio_row("iperf3 1 stream, redirect vs haproxy (splice)", "switchboard", "haproxy",
                    ">= 1.00x haproxy", 1.0, fmt=fmt)
    sides.ratio_row("iperf3 1 stream, redirect vs direct", "switchboard", "direct", ">= 0.60x direct", 0.6, fmt=fmt)
    sides.samples_note("forward Gbit/s", fmt=lambda x: f"{x:.2f}", per="MiB")


FORWARD_IDLE_TARGET = 8000


def figure_forward_idle(b):
    """Idle connections held through a redirect service to sb-ref-echo (and,
    beside it, through haproxy): each costs the forwarder two fds, so the
    count is what half the hard fd limit allows, at most FORWARD_IDLE_TARGET."""
    what = "redirect idle conns held / answered, vs haproxy"
    what_rss = "RSS growth per redirect idle conn, vs haproxy"
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    count = FORWARD_IDLE_TARGET
    if hard != resource.RLIM_INFINITY and (hard - 256) // 2 < count:
        count = (hard - 256) // 2
        b.notes.append(f"forward-idle: the hard fd limit is {hard}, so {count:,} connections (2 fds each in the "
                       f"forwarder) were tried, not {FORWARD_IDLE_TARGET:,}")
    if count < 100:
        raise Unavailable(f"the hard fd limit ({hard}) leaves room for {count} forwarded connections")
    results = {}
    problems = {}
    for name in ("switchboard", "haproxy"):
        echo_port, port = free_ports(2)
        try:
            b.reference("ref-echo-fwd-idle", [b.ref_echo, "-p", str(echo_port)])
            if name == "switchboard":
                server = b.switchboard_with(
                    "forward-idle", {"fwd": {"listen": [f"tcp://127.0.0.1:{port}"],
                                             "redirect": {"to": f"tcp://127.0.0.1:{echo_port}"},
                                             # sb-load idle spreads its connections over 127.10.x.y,
                                             # 32 from each address
                                             "per_source": 64, "max_connections": count + 64}},
                    probe_port=port)
            else:
                server = start_haproxy(b, "haproxy-idle", port, echo_port, maxconn=count + 64)
            results[name] = hold_idle(b, server, port, count)
        except Unavailable as e:
            problems[name] = str(e)
        finally:
            b.stop_all()  # one side at a time: each needs the fds

    held_cell, rss_cell = idle_cells(b, what, results, problems)

    sb, ha = results.get("switchboard"), results.get("haproxy")
    met, ratio = "-", ""
    if sb:
        met = yes_no(sb[0]["answered"] >= count and sb[0]["held"] == sb[0]["answered"])
        if ha and ha[0]["answered"]:
            ratio = f"{sb[0]['answered'] / ha[0]['answered']:.2f}x"
    b.row(what, held_cell("switchboard"), held_cell("haproxy"), ratio, f"{count:,}, all answer", met)
    ratio, met = "", "-"
    if sb:
        per_conn = sb[1] * 1024 / max(sb[0]["answered"], 1)
        met = yes_no(per_conn <= 1024)
        if ha and ha[1] > 0 and ha[0]["answered"]:
            ratio = f"{per_conn / (ha[1] * 1024 / ha[0]['answered']):.2f}x"
    b.row(what_rss, rss_cell("switchboard"), rss_cell("haproxy"), ratio, "<= 1,024 B", met)
    for name, (r, rss, fds) in results.items():
        b.notes.append(f"forward-idle: {name}'s RSS grew {rss:,} KiB and it gained {fds:,} fds holding "
                       f"{r['held']:,.0f} forwarded connections to sb-ref-echo (lost {r['lost']:.0f}, "
                       f"unanswered {r['unanswered']:.0f}, connect failures {r['failed']:.0f}, opening stopped "
                       f"by: {r['stopped']}, {r['open_seconds']:.1f} s to open)")


CHURN_CLIENTS = 4


def churn_round(b, port, seconds):
    """CHURN_CLIENTS sb-load connect loops at once (each: connect, echo one
    byte, reset; one connection at a time) for `seconds`: their summed
    result."""
    procs = [subprocess.Popen([b.load, "connect", "-p", str(port), "-d", f"{seconds:g}"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(CHURN_CLIENTS)]
    outs = []
    try:
        deadline = time.monotonic() + seconds + 15
        for proc in procs:
            try:
                outs.append(proc.communicate(timeout=max(0.1, deadline - time.monotonic()))[0])
            except subprocess.TimeoutExpired:
                raise Unavailable(f"sb-load connect did not finish in {seconds + 15:.0f} s")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    total = {"ok": 0.0, "refused": 0.0, "failed": 0.0, "rate": 0.0, "slowest_ms": 0.0}
    for out in outs:
        r = parse_result(out)
        for key in ("ok", "refused", "failed", "rate"):
            total[key] += r[key]
        total["slowest_ms"] = max(total["slowest_ms"], r["slowest_ms"])
    return total


def figure_forward_churn(b):
    """Connection churn through a redirect service and through haproxy (TCP
    mode, one thread like switchboard's one loop), both to sb-ref-echo."""
    echo_port, sb_port, ha_port = free_ports(3)
    echo = b.reference("ref-echo-churn", [b.ref_echo, "-p", str(echo_port)])
    sides = Sides(b)
    sides.add("switchboard", sb_port, lambda: b.switchboard_with(
        "forward-churn", {"fwd": {"listen": [f"tcp://127.0.0.1:{sb_port}"],
                                  "redirect": {"to": f"tcp://127.0.0.1:{echo_port}"},
                                  # every client is 127.0.0.1; a reset connection is
                                  # gone at once, but lift the limits out of the way
                                  "per_source": 1000, "max_connections": 1000}}, probe_port=sb_port))
    sides.add("haproxy", ha_port, lambda: start_haproxy(b, "haproxy-churn", ha_port, echo_port, nbthread=1))
    errors = []

    def measure(name, port):
        r = churn_round(b, port, b.seconds)
        if r["refused"] or r["failed"]:
            errors.append(f"{name}: refused {r['refused']:.0f}, failed {r['failed']:.0f}")
        if r["ok"] == 0:
            raise Unavailable(f"no connection made its round trip (refused {r['refused']:.0f}, "
                              f"failed {r['failed']:.0f})")
        slowest.setdefault(name, []).append(r["slowest_ms"])
        return r["rate"], r["ok"] + r["failed"]

    slowest = {}
    # One short warm-up per side (not counted): the first connections pay for
    # page faults and the backend's first accept.
    for name, port in list(sides.ports.items()):
        try:
            churn_round(b, port, 0.3)
        except Unavailable:
            pass
    sides.measure(measure)
    echo.check_alive()
    what = f"redirect churn conns/s, {CHURN_CLIENTS} clients, vs haproxy"
    sides.ratio_row(what, "switchboard", "haproxy", "none set; report", 0.0)
    b.rows[-1] = b.rows[-1][:5] + ("-",)
    sides.samples_note("forward-churn conns/s", per="connection")
    b.notes.append(f"forward-churn: each client connects, echoes one byte through the forwarder to sb-ref-echo "
                   f"and resets, one connection at a time; slowest ms per side: " + "; ".join(
                       f"{name} {max(v):.1f}" for name, v in slowest.items()))
    if errors:
        b.notes.append("forward-churn errors: " + "; ".join(errors[:6]))


RELOADED = re.compile(r"\breloaded\b.*\bms=([0-9.]+)")
RELOAD_FAILED = re.compile(r"^\S+ (?:warning|error) (reload\S*fail\S*.*)$", re.M)


def reload_config(ports, control, variant):
    services = {}
    for i, port in enumerate(ports):
        s = {"listen": [f"tcp://127.0.0.1:{port}"], "builtin": "echo"}
        if variant:
            s["max_connections"] = 100000 + variant  # changes the service, not its listener
        services[f"echo-{i:04d}"] = s
    return {"control": {"socket": control}, "log": {"format": "text", "level": "info"}, "services": services}


def wait_reloaded(sb, sent_at, timeout=10.0):
    """Waits for the next "reloaded ... ms=" line; returns (the logged ms, the
    wall ms from sent_at until the line was seen, polling every millisecond)."""
    size = os.path.getsize(sb.log_path)
    while time.monotonic() < sent_at + timeout:
        now_size = os.path.getsize(sb.log_path)
        if now_size == size:
            sb.check_alive()
            time.sleep(0.001)
            continue
        seen_at = time.monotonic()
        size = now_size
        text = sb.new_output()
        found = RELOADED.findall(text)
        if found:
            return float(found[-1]), (seen_at - sent_at) * 1000
        failed = RELOAD_FAILED.findall(text)
        if failed:
            raise Unavailable("reload failed: " + failed[-1][:160])
    raise Unavailable(f"no 'reloaded ... ms=' log line within {timeout:.0f} s of SIGHUP")


def figure_reload(b):
    what = "reload ms, 1,000 services, median / max"
    what_refused = "refused connects during reloads"
    target = "<= 100 ms"
    reloads = 4 if b.args.quick else 12
    ports = free_ports(1000)
    control = os.path.join(b.workdir, "ctl.sock")
    path = os.path.join(b.workdir, "reload.json")
    client = None
    server_ms, wall_ms = [], []
    try:
        if not os.access(b.switchboard, os.X_OK):
            raise Unavailable(f"no switchboard binary at {b.switchboard}")
        write_json(path, reload_config(ports, control, 0))
        sb = b.start("reload", [b.switchboard, "run", "-c", path])
        sb.wait_ready(timeout=60)
        client = subprocess.Popen([b.load, "connect", "-p", str(ports[len(ports) // 2]), "-d", "120"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        time.sleep(0.3)
        for i in range(1, reloads + 1):
            # Odd reloads change all 1,000 services (not their listeners); even
            # ones go back to the first file.
            write_json(path, reload_config(ports, control, i if i % 2 else 0))
            sb.new_output()
            sent_at = time.monotonic()
            sb.proc.send_signal(signal.SIGHUP)
            ms, wall = wait_reloaded(sb, sent_at)
            server_ms.append(ms)
            wall_ms.append(wall)
            time.sleep(0.15)
        client.send_signal(signal.SIGTERM)
        out, _ = client.communicate(timeout=10)
        conn = parse_result(out)
        ctl_note = ctl_reload(b, control)
        sb.check_alive()
    except Unavailable as e:
        b.na(what, str(e), target)
        return b.na(what_refused, "not measured", "0")
    finally:
        if client and client.poll() is None:
            client.kill()
            client.wait()
    worst = max(max(server_ms), max(wall_ms))
    b.row(what, f"{statistics.median(server_ms):.1f} / {max(server_ms):.1f} logged, "
          f"{statistics.median(wall_ms):.1f} / {max(wall_ms):.1f} wall", "", "", target, yes_no(worst <= 100))
    attempts = conn["ok"] + conn["refused"] + conn["failed"]
    b.row(what_refused, f"{conn['refused']:.0f} of {attempts:,.0f}", "", "", "0",
          yes_no(conn["refused"] == 0 and conn["failed"] == 0))
    b.notes.append(f"reload: {len(server_ms)} SIGHUPs, every other one changing all 1,000 services; logged ms "
                   + ", ".join(f"{t:.1f}" for t in server_ms) + "; wall ms (SIGHUP until the line appeared) "
                   + ", ".join(f"{t:.1f}" for t in wall_ms) + f"; client: {conn['ok']:,.0f} ok, "
                   f"{conn['refused']:.0f} refused, {conn['failed']:.0f} failed, slowest {conn['slowest_ms']:.1f} ms")
    b.notes.append(ctl_note)


def ctl_reload(b, control):
    """One `switchboard ctl reload` through the control socket, timed from outside."""
    if not os.path.exists(control):
        return "ctl reload: n/a (no control socket at the configured path)"
    started = time.monotonic()
    try:
        done = subprocess.run([b.switchboard, "ctl", "-s", control, "reload"], capture_output=True, text=True,
                              timeout=20)
    except subprocess.TimeoutExpired:
        return "ctl reload: n/a (no answer within 20 s)"
    took = (time.monotonic() - started) * 1000
    if done.returncode != 0:
        reason = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()[-1]
        return f"ctl reload: n/a ({reason[:120]})"
    return f"ctl reload: {took:.0f} ms round trip, starting the ctl process included"


# ---- main --------------------------------------------------------------------


def print_table(b, header):
    cols = ("what", "switchboard", "reference", "ratio", "target", "met")
    rows = [cols] + [tuple(str(c) for c in r) for r in b.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]

    def line(r):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"

    print()
    print(header)
    print()
    print(line(cols))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows[1:]:
        print(line(r))
    print()
    for n in b.notes:
        print("- " + n)
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description="switchboard benchmark (DESIGN.md §9)")
    ap.add_argument("--build", default="build-release", help="meson build directory holding switchboard")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only these figures (repeat or comma-separate): " + ", ".join(FIGURES))
    ap.add_argument("--quick", action="store_true", help="one short round per figure")
    ap.add_argument("--rounds", type=int, default=0, help="alternating rounds per figure (default 5, quick 1)")
    ap.add_argument("--seconds", type=float, default=0, help="seconds measured per round, after a 0.5 s warm-up (default 1)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory with configs and logs")
    args = ap.parse_args()
    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in only if n not in FIGURES]
    if unknown:
        ap.error(f"unknown figure {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    selected = [f for f in FIGURES if not only or f in only]

    # Children inherit the raised limit (switchboard raises its own as well).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    b = Bench(args)
    missing = [p for p in (b.load, b.ref_echo, b.ref_spawn, b.hello) if not os.access(p, os.X_OK)]
    if missing:
        print("bench: missing " + ", ".join(missing) + f"; build first (ninja -C {args.build})", file=sys.stderr)
        return 1
    load1 = os.getloadavg()[0]
    header = (f"switchboard benchmark: {os.cpu_count()} CPUs, kernel {os.uname().release}, fd limit {hard}, "
              f"{b.rounds} round(s) of {b.seconds:g} s per measurement; figures are medians, "
              f"ratios the median of each round's ratio")
    print(header, flush=True)
    started = time.monotonic()
    try:
        for name in selected:
            t0 = time.monotonic()
            print(f"  {name} ...", end="", flush=True)
            try:
                globals()["figure_" + name.replace("-", "_")](b)
            except Unavailable as e:
                b.na(name, str(e), "")
            finally:
                b.stop_all()
            print(f" {time.monotonic() - t0:.0f} s", flush=True)
    finally:
        b.stop_all()
        if args.keep:
            b.notes.append(f"configs and logs kept in {b.workdir}")
        else:
            shutil.rmtree(b.workdir, ignore_errors=True)
    load2 = os.getloadavg()[0]
    b.notes.append(f"took {time.monotonic() - started:.0f} s; load average {load1:.2f} at start, {load2:.2f} at end"
                   + (" (a busy machine: trust the ratios, not the absolute figures)"
                      if max(load1, load2) > 1.5 else ""))
    print_table(b, "Results (DESIGN.md §9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
