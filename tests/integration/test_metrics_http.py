"""The metrics listener (metrics.listen): a real server answers GET /metrics
over HTTP/1.1 and HTTP/1.0 with text Prometheus' own parser reads, 404 and
405 for other paths and methods, keeps the socket across a reload that keeps
the address, moves it when the address changes, closes it when the key goes,
and a reload whose metrics address cannot be bound changes nothing."""
import json
import os
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Server, base_config, builtin_service, ctl_json

# Debian's python3-prometheus-client is installed for the system
# interpreter, which need not be the python3 on PATH.
PARSE = r"""
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([family.name, family.type, s.name, s.labels, s.value])
print(json.dumps(out))
"""


def parse_metrics(text):
    r = subprocess.run(["/usr/bin/python3", "-c", PARSE], input=text.encode(), capture_output=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("prometheus_client could not parse the metrics: " + r.stderr.decode())
    return json.loads(r.stdout)


def sample(samples, name, **labels):
    for family, kind, sname, slabels, value in samples:
        if sname == name and all(slabels.get(k) == v for k, v in labels.items()):
            return value
    raise AssertionError(f"no sample {name} {labels}")


def http(port, request, timeout=10):
    """Sends `request` whole and returns (status line, headers, body) of the answer."""
    with harness.connect(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = harness.recv_until_eof(s, timeout=timeout)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return lines[0], headers, body


def refused(port, attempts=100):
    """True once connecting to `port` is refused. The server closes a
    listener's fd in a close callback, which may run just after its reply
    to the reload: a few tries, 50 ms apart, are allowed."""
    for _ in range(attempts):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


class MetricsListenerTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sb-metrics-http-")
        self.sock = os.path.join(self.tmp, "control.sock")
        self.echo = harness.free_port()
        self.hello = harness.free_port()
        self.port = harness.free_port()
        self.config = base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{self.echo}"]),
                                   "hello": {"listen": [f"tcp://127.0.0.1:{self.hello}"],
                                             "exec": {"argv": ["/bin/echo", "hello"]}}},
                                  control={"socket": self.sock},
                                  metrics={"listen": f"tcp://127.0.0.1:{self.port}"})
        self.server = Server(self.config)
        self.addCleanup(self.server.stop)
        self.server.start()

    def reload_with_metrics(self, listen):
        if listen is None:
            self.config.pop("metrics", None)
        else:
            self.config["metrics"] = {"listen": listen}
        self.server.write_config(self.config)
        return ctl_json(self.sock, "reload")

    def test_get_over_http_1_1_and_1_0_parses_and_counts(self):
        self.assertTrue(harness.echo_answers(("127.0.0.1", self.echo)))
        status, headers, body = http(self.port, b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
        self.assertEqual(status, "HTTP/1.1 200 OK")
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"), headers)
        self.assertEqual(int(headers["content-length"]), len(body))
        samples = parse_metrics(body.decode())
        self.assertEqual(sample(samples, "switchboard_connections_accepted_total", service="echo"), 1)
        self.assertEqual(sample(samples, "switchboard_service_enabled", service="echo"), 1)

        status, headers, body = http(self.port, b"GET /metrics HTTP/1.0\r\n\r\n")
        self.assertTrue(status.startswith("HTTP/1.") and " 200 " in status, status)
        samples = parse_metrics(body.decode())
        self.assertEqual(sample(samples, "switchboard_config_generation"), 1)

        status, headers, body = http(self.port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(" 200 ", status)
        self.assertEqual(body, b"")

    def test_histograms_of_duration_and_spawn_latency(self):
        self.assertTrue(harness.echo_answers(("127.0.0.1", self.echo)))
        with harness.connect(("127.0.0.1", self.hello)) as s:
            self.assertEqual(harness.recv_until_eof(s), b"hello\n")
        self.server.wait_for(r"\bconn\b.*service=echo")
        self.server.wait_for(r"\bconn\b.*service=hello")
        _, _, body = http(self.port, b"GET /metrics HTTP/1.0\r\n\r\n")
        samples = parse_metrics(body.decode())
        kinds = {family: kind for family, kind, _, _, _ in samples}
        self.assertEqual(kinds["switchboard_connection_duration_seconds"], "histogram")
        self.assertEqual(kinds["switchboard_spawn_latency_seconds"], "histogram")

        def buckets(name, service):
            return [(l["le"], v) for _, _, n, l, v in samples if n == name + "_bucket" and l["service"] == service]

        documented = {
            "switchboard_connection_duration_seconds":
                ["0.005", "0.01", "0.05", "0.1", "0.5", "1", "5", "10", "30", "60", "300", "1800", "+Inf"],
            "switchboard_spawn_latency_seconds":
                ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf"],
        }
        for name, bounds in documented.items():
            for service in ("echo", "hello"):
                got = buckets(name, service)
                self.assertEqual([float(le) for le, _ in got], [float(b) for b in bounds], (name, service))
                values = [v for _, v in got]
                self.assertEqual(values, sorted(values), "buckets are cumulative")
                self.assertEqual(values[-1], sample(samples, name + "_count", service=service))
        for service in ("echo", "hello"):
            self.assertEqual(sample(samples, "switchboard_connection_duration_seconds_count", service=service), 1)
            self.assertGreaterEqual(sample(samples, "switchboard_connection_duration_seconds_sum", service=service), 0)
        self.assertEqual(sample(samples, "switchboard_spawn_latency_seconds_count", service="hello"), 1)
        self.assertGreater(sample(samples, "switchboard_spawn_latency_seconds_sum", service="hello"), 0)
        self.assertEqual(sample(samples, "switchboard_spawn_latency_seconds_count", service="echo"), 0)

    def test_other_paths_and_methods(self):
        status, _, _ = http(self.port, b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(" 404 ", status)
        status, headers, _ = http(self.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        self.assertIn(" 405 ", status)
        self.assertEqual(headers["allow"], "GET, HEAD")
        # The metrics listener is not a service: it is not in the table.
        code, reply = ctl_json(self.sock, "services")
        self.assertEqual(code, 0, reply)
        self.assertNotIn(str(self.port), json.dumps(reply))

    def test_reloads_keep_move_and_close_the_listener(self):
        # Connected before a reload that keeps the address: the same socket
        # still answers it afterwards.
        early = harness.connect(("127.0.0.1", self.port))
        self.addCleanup(early.close)
        code, reply = self.reload_with_metrics(f"tcp://127.0.0.1:{self.port}")
        self.assertEqual(code, 0, reply)
        early.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = harness.recv_until_eof(early)
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 OK"), answer[:80])
        self.assertIn(b"switchboard_config_generation 2", answer)

        moved = harness.free_port()
        code, reply = self.reload_with_metrics(f"tcp://127.0.0.1:{moved}")
        self.assertEqual(code, 0, reply)
        self.assertIn(" 200 ", http(moved, b"GET /metrics HTTP/1.0\r\n\r\n")[0])
        self.assertTrue(refused(self.port))

        # An address that cannot be bound fails the whole reload; the
        # running listener goes on serving.
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        code, reply = self.reload_with_metrics(f"tcp://127.0.0.1:{taken.getsockname()[1]}")
        self.assertEqual(code, 2, reply)
        self.assertIn("the metrics listener", json.dumps(reply))
        self.assertIn(" 200 ", http(moved, b"GET /metrics HTTP/1.0\r\n\r\n")[0])

        code, reply = self.reload_with_metrics(None)
        self.assertEqual(code, 0, reply)
        self.assertTrue(refused(moved))
        self.assertEqual(self.server.stop(), 0)


if __name__ == "__main__":
    harness.main()
