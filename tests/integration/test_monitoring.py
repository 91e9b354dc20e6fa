"""The monitoring examples (config/examples/monitoring/) use only metrics
switchboard exports, with their real labels, and are well-formed: the
alerting rules as Prometheus rule files, the dashboard as Grafana JSON.
The metric names come from src/control/metrics.cpp and, as a cross-check,
from a running server's `ctl metrics`."""
import json
import os
import re
import unittest

import yaml

import harness
from harness import Server, base_config, builtin_service

MONITORING = os.path.join(harness.SOURCE_ROOT, "config", "examples", "monitoring")
# PromQL words that look like metric names but are not.
PROMQL_WORDS = {"sum", "by", "rate", "increase", "count", "up", "label_values", "humanize", "without", "on",
                "ignoring", "and", "or", "unless", "bool"}


def exported_families():
    with open(os.path.join(harness.SOURCE_ROOT, "src", "control", "metrics.cpp")) as f:
        return set(re.findall(r'e\.family\("(switchboard_[a-z_]+)"', f.read()))


def metric_names(expr):
    """Families used in `expr`; a histogram's _bucket series counts as its family."""
    return {re.sub(r"_bucket$", "", n) for n in re.findall(r"\bswitchboard_[a-z_]+\b", expr)}


def label_names(expr):
    """Label names used in selectors and in by (...) clauses."""
    names = set(re.findall(r"\b([a-z_]+)\s*(?:=~|!=|!~|=)\s*\"", expr))
    for group in re.findall(r"\bby\s*\(([^)]*)\)", expr):
        names |= {n.strip() for n in group.split(",") if n.strip()}
    return names


class MonitoringTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.families = exported_families()
        assert len(cls.families) >= 15, cls.families

    def check_expr(self, expr, where):
        names = metric_names(expr)
        self.assertTrue(names or "up{" in expr, f"{where}: no switchboard metric in {expr!r}")
        unknown = names - self.families
        self.assertFalse(unknown, f"{where}: {sorted(unknown)} are not exported by src/control/metrics.cpp")
        # Labels switchboard sets, plus what Prometheus adds to every target.
        allowed = {"service", "reason", "result", "version", "instance", "job", "le"}
        self.assertFalse(label_names(expr) - allowed, f"{where}: unknown labels in {expr!r}")
        self.assertEqual(expr.count("("), expr.count(")"), where)
        self.assertEqual(expr.count("{"), expr.count("}"), where)

    def test_alerting_rules(self):
        with open(os.path.join(MONITORING, "alerts.yml")) as f:
            doc = yaml.safe_load(f)
        self.assertEqual(list(doc), ["groups"])
        alerts = {}
        for group in doc["groups"]:
            self.assertEqual(set(group) - {"name", "interval", "rules"}, set())
            for rule in group["rules"]:
                self.assertEqual(set(rule) - {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"},
                                 set(), rule)
                self.assertRegex(rule["alert"], r"^[A-Za-z_][A-Za-z0-9_]*$")
                self.assertIn(rule["labels"]["severity"], ("critical", "warning", "info"))
                self.assertTrue(rule["annotations"]["summary"])
                if "for" in rule:
                    self.assertRegex(rule["for"], r"^\d+[smh]$")
                self.check_expr(rule["expr"], rule["alert"])
                alerts[rule["alert"]] = rule["expr"]
        # What the issue asks the rules to cover.
        self.assertIn("up{", alerts["SwitchboardDown"])
        self.assertIn("switchboard_last_reload_success", alerts["SwitchboardReloadFailed"])
        self.assertIn("by (instance, service, reason)", alerts["SwitchboardRejections"])
        self.assertIn("switchboard_children_spawn_failures_total", alerts["SwitchboardSpawnFailures"])
        self.assertIn('reason="fd_budget"', alerts["SwitchboardFdBudgetExhausted"])

    def test_grafana_dashboard(self):
        with open(os.path.join(MONITORING, "grafana-dashboard.json")) as f:
            dash = json.load(f)
        self.assertEqual(dash["uid"], "switchboard")
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        used = set()
        for panel in dash["panels"]:
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                self.check_expr(target["expr"], panel["title"])
                used |= metric_names(target["expr"])
        for variable in dash["templating"]["list"]:
            if variable["type"] == "query":
                self.check_expr(variable["query"]["query"], variable["name"])
        # The dashboard shows every family but the build info.
        self.assertEqual(self.families - used, {"switchboard_build_info"})

    def test_a_running_server_exports_those_families(self):
        port = harness.free_port()
        sock = harness.control_socket_path()
        with Server(base_config({"echo": builtin_service("echo", [f"tcp://127.0.0.1:{port}"])},
                                control={"socket": sock})) as server:
            server.start()
            r = harness.ctl(sock, "metrics")
            self.assertEqual(r.returncode, 0, r.stderr)
            served = set(re.findall(r"^# TYPE (\S+) ", r.stdout, re.M))
            self.assertEqual(served, self.families)


if __name__ == "__main__":
    harness.main()
