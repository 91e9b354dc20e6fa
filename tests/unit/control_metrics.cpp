// Prometheus rendering: the exact exposition for a known state.
#include <doctest/doctest.h>

#include "control/metrics.hpp"

using namespace sb;

namespace {

control::StatusView status() {
    control::StatusView s;
    s.version = "0.1.0";
    s.uptime_seconds = 90.5;
    s.generation = 4;
    s.reloads.succeeded = 3;
    s.reloads.failed = 1;
    s.reloads.last_ok = false;
    s.reloads.last_milliseconds = 2.5;
    return s;
}

control::ServiceView echo() {
    control::ServiceView v;
    v.name = "echo";
    v.state = "enabled";
    v.active = 2;
    v.counters.accepted = 17;
    v.counters.rejected[static_cast<std::size_t>(server::RejectReason::per_source)] = 5;
    v.counters.bytes_in = 1000;
    v.counters.bytes_out = 999;
    v.counters.datagrams_in = 4;
    v.counters.datagrams_out = 3;
    return v;
}

control::ServiceView git() {
    control::ServiceView v;
    v.name = "git";
    v.state = "disabled";
    v.children = 1;
    v.counters.spawned = 9;
    v.counters.spawn_failures = 1;
    v.counters.exits_ok = 6;
    v.counters.exits_failed = 2;
    return v;
}

}  // namespace

TEST_CASE("the exposition of a known state, line by line") {
    std::string text = control::render_metrics(status(), {echo(), git()});
    const char* expected =
        "# HELP switchboard_build_info The running switchboard's version; always 1.\n"
        "# TYPE switchboard_build_info gauge\n"
        "switchboard_build_info{version=\"0.1.0\"} 1\n"
        "# HELP switchboard_uptime_seconds Seconds since the server started.\n"
        "# TYPE switchboard_uptime_seconds gauge\n"
        "switchboard_uptime_seconds 90.5\n"
        "# HELP switchboard_config_generation Configurations applied since start, the first included.\n"
        "# TYPE switchboard_config_generation gauge\n"
        "switchboard_config_generation 4\n"
        "# HELP switchboard_reloads_total Reloads by result.\n"
        "# TYPE switchboard_reloads_total counter\n"
        "switchboard_reloads_total{result=\"ok\"} 3\n"
        "switchboard_reloads_total{result=\"failed\"} 1\n"
        "# HELP switchboard_last_reload_success 1 if the last reload succeeded (or none ran yet), else 0.\n"
        "# TYPE switchboard_last_reload_success gauge\n"
        "switchboard_last_reload_success 0\n"
        "# HELP switchboard_last_reload_duration_seconds How long the last successful reload took.\n"
        "# TYPE switchboard_last_reload_duration_seconds gauge\n"
        "switchboard_last_reload_duration_seconds 0.0025\n"
        "# HELP switchboard_accept_failures_total accept4 failures that paused accepting: for want of fds or "
        "memory (EMFILE, ENFILE, ENOBUFS, ENOMEM; every listener) or any other error (that listener).\n"
        "# TYPE switchboard_accept_failures_total counter\n"
        "switchboard_accept_failures_total 0\n"
        "# HELP switchboard_fd_budget_pauses_total Times every listener paused at the fd budget.\n"
        "# TYPE switchboard_fd_budget_pauses_total counter\n"
        "switchboard_fd_budget_pauses_total 0\n"
        "# HELP switchboard_fd_budget_paused 1 while listeners are paused at the fd budget, else 0.\n"
        "# TYPE switchboard_fd_budget_paused gauge\n"
        "switchboard_fd_budget_paused 0\n"
        "# HELP switchboard_log_lines_dropped_total Log lines dropped because the log destination would not take them "
        "(a stalled pipe, a full disk).\n"
        "# TYPE switchboard_log_lines_dropped_total counter\n"
        "switchboard_log_lines_dropped_total 0\n"
        "# HELP switchboard_service_enabled 1 if the service accepts connections, else 0.\n"
        "# TYPE switchboard_service_enabled gauge\n"
        "switchboard_service_enabled{service=\"echo\"} 1\n"
        "switchboard_service_enabled{service=\"git\"} 0\n"
        "# HELP switchboard_connections_active Open connections.\n"
        "# TYPE switchboard_connections_active gauge\n"
        "switchboard_connections_active{service=\"echo\"} 2\n"
        "switchboard_connections_active{service=\"git\"} 0\n"
        "# HELP switchboard_connections_accepted_total Connections accepted and admitted.\n"
        "# TYPE switchboard_connections_accepted_total counter\n"
        "switchboard_connections_accepted_total{service=\"echo\"} 17\n"
        "switchboard_connections_accepted_total{service=\"git\"} 0\n"
        "# HELP switchboard_connections_rejected_total Connections or datagrams refused, by reason.\n"
        "# TYPE switchboard_connections_rejected_total counter\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"denied\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"max_connections\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"per_source\"} 5\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"rate\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"max_children\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"fd_budget\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"reflection\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"own_address\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"proxy_untrusted\"} 0\n"
        "switchboard_connections_rejected_total{service=\"echo\",reason=\"proxy_header\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"denied\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"max_connections\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"per_source\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"rate\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"max_children\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"fd_budget\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"reflection\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"own_address\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"proxy_untrusted\"} 0\n"
        "switchboard_connections_rejected_total{service=\"git\",reason=\"proxy_header\"} 0\n"
        "# HELP switchboard_received_bytes_total Bytes received from clients.\n"
        "# TYPE switchboard_received_bytes_total counter\n"
        "switchboard_received_bytes_total{service=\"echo\"} 1000\n"
        "switchboard_received_bytes_total{service=\"git\"} 0\n"
        "# HELP switchboard_sent_bytes_total Bytes sent to clients.\n"
        "# TYPE switchboard_sent_bytes_total counter\n"
        "switchboard_sent_bytes_total{service=\"echo\"} 999\n"
        "switchboard_sent_bytes_total{service=\"git\"} 0\n"
        "# HELP switchboard_datagrams_received_total Datagrams received.\n"
        "# TYPE switchboard_datagrams_received_total counter\n"
        "switchboard_datagrams_received_total{service=\"echo\"} 4\n"
        "switchboard_datagrams_received_total{service=\"git\"} 0\n"
        "# HELP switchboard_datagrams_sent_total Datagrams answered.\n"
        "# TYPE switchboard_datagrams_sent_total counter\n"
        "switchboard_datagrams_sent_total{service=\"echo\"} 3\n"
        "switchboard_datagrams_sent_total{service=\"git\"} 0\n"
        "# HELP switchboard_children_spawned_total Child processes started.\n"
        "# TYPE switchboard_children_spawned_total counter\n"
        "switchboard_children_spawned_total{service=\"echo\"} 0\n"
        "switchboard_children_spawned_total{service=\"git\"} 9\n"
        "# HELP switchboard_children_spawn_failures_total Child processes that could not be started.\n"
        "# TYPE switchboard_children_spawn_failures_total counter\n"
        "switchboard_children_spawn_failures_total{service=\"echo\"} 0\n"
        "switchboard_children_spawn_failures_total{service=\"git\"} 1\n"
        "# HELP switchboard_forward_failures_total Forwarded connections closed because the upstream could not be "
        "reached.\n"
        "# TYPE switchboard_forward_failures_total counter\n"
        "switchboard_forward_failures_total{service=\"echo\"} 0\n"
        "switchboard_forward_failures_total{service=\"git\"} 0\n"
        "# HELP switchboard_children_active Child processes running.\n"
        "# TYPE switchboard_children_active gauge\n"
        "switchboard_children_active{service=\"echo\"} 0\n"
        "switchboard_children_active{service=\"git\"} 1\n"
        "# HELP switchboard_children_exits_total Child processes that ended: ok (exit 0) or failed (non-zero "
        "exit or a signal).\n"
        "# TYPE switchboard_children_exits_total counter\n"
        "switchboard_children_exits_total{service=\"echo\",result=\"ok\"} 0\n"
        "switchboard_children_exits_total{service=\"echo\",result=\"failed\"} 0\n"
        "switchboard_children_exits_total{service=\"git\",result=\"ok\"} 6\n"
        "switchboard_children_exits_total{service=\"git\",result=\"failed\"} 2\n";
    // The histograms follow (next test case).
    CHECK(text.substr(0, std::string(expected).size()) == expected);
    CHECK(text.find("# TYPE switchboard_connection_duration_seconds histogram\n") == std::string(expected).size() +
              std::string("# HELP switchboard_connection_duration_seconds Stream connections by how long they "
                          "lasted, accept to close.\n").size());
}

TEST_CASE("histograms: cumulative buckets at the documented bounds, +Inf, sum and count") {
    auto v = echo();
    for (double seconds : {0.00390625, 0.0048828125, 0.25, 7.0, 4000.0}) v.counters.durations.observe(seconds);
    v.counters.spawn_latency.observe(0.0007);
    v.counters.spawn_latency.observe(2.0);
    std::string text = control::render_metrics(status(), {v});
    const char* durations =
        "# TYPE switchboard_connection_duration_seconds histogram\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"0.005\"} 2\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"0.01\"} 2\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"0.05\"} 2\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"0.1\"} 2\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"0.5\"} 3\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"1\"} 3\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"5\"} 3\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"10\"} 4\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"30\"} 4\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"60\"} 4\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"300\"} 4\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"1800\"} 4\n"
        "switchboard_connection_duration_seconds_bucket{service=\"echo\",le=\"+Inf\"} 5\n"
        "switchboard_connection_duration_seconds_sum{service=\"echo\"} 4007.2587890625\n"
        "switchboard_connection_duration_seconds_count{service=\"echo\"} 5\n";
    CHECK(text.find(durations) != std::string::npos);
    const char* spawn =
        "# TYPE switchboard_spawn_latency_seconds histogram\n"
        "switchboard_spawn_latency_seconds_bucket{service=\"echo\",le=\"0.0005\"} 0\n"
        "switchboard_spawn_latency_seconds_bucket{service=\"echo\",le=\"0.001\"} 1\n";
    CHECK(text.find(spawn) != std::string::npos);
    CHECK(text.find("switchboard_spawn_latency_seconds_bucket{service=\"echo\",le=\"1\"} 1\n") != std::string::npos);
    CHECK(text.find("switchboard_spawn_latency_seconds_bucket{service=\"echo\",le=\"+Inf\"} 2\n") != std::string::npos);
    CHECK(text.find("switchboard_spawn_latency_seconds_count{service=\"echo\"} 2\n") != std::string::npos);
}

TEST_CASE("label values are escaped") {
    CHECK(control::escape_label(R"(a"b\c)") == R"(a\"b\\c)");
    CHECK(control::escape_label("two\nlines") == "two\\nlines");
    auto v = echo();
    v.name = "we\"ird";
    std::string text = control::render_metrics(status(), {v});
    CHECK(text.find("switchboard_connections_accepted_total{service=\"we\\\"ird\"} 17\n") != std::string::npos);
}

TEST_CASE("no services: the server-wide families only") {
    std::string text = control::render_metrics(status(), {});
    CHECK(text.find("switchboard_build_info{version=\"0.1.0\"} 1\n") != std::string::npos);
    CHECK(text.find("{service=") == std::string::npos);
    // Every family still announces itself, so dashboards see the names.
    CHECK(text.find("# TYPE switchboard_connections_accepted_total counter\n") != std::string::npos);
}

TEST_CASE("what the control socket turned away is counted by reason") {
    control::StatusView s = status();
    s.control_refused.malformed = 3;
    s.control_refused.denied = 2;
    s.control_refused.busy = 40;
    s.control_refused.deadline = 1;
    std::string text = control::render_metrics(s, {});
    CHECK(text.find("# TYPE switchboard_control_refused_total counter\n"
                    "switchboard_control_refused_total{reason=\"malformed\"} 3\n"
                    "switchboard_control_refused_total{reason=\"denied\"} 2\n"
                    "switchboard_control_refused_total{reason=\"busy\"} 40\n"
                    "switchboard_control_refused_total{reason=\"deadline\"} 1\n") != std::string::npos);
}
