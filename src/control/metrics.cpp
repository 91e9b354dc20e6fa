// Prometheus text rendering (see metrics.hpp).
#include "control/metrics.hpp"

#include <charconv>
#include <cstdint>

namespace sb::control {
namespace {

class Exposition {
public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
        name_ = name;
    }

    // A sample of the current family; `labels` is already rendered ("" or `a="b",c="d"`).
    // `suffix` names a histogram's series ("_bucket", "_sum", "_count").
    void sample(const std::string& labels, std::uint64_t value, std::string_view suffix = {}) {
        begin(labels, suffix);
        out_ += std::to_string(value);
        out_ += '\n';
    }
    void sample(const std::string& labels, double value, std::string_view suffix = {}) {
        begin(labels, suffix);
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);  // shortest exact form
        out_.append(buf, ec == std::errc() ? end : buf);
        out_ += '\n';
    }

    std::string take() { return std::move(out_); }

private:
    void begin(const std::string& labels, std::string_view suffix) {
        out_ += name_;
        out_ += suffix;
        if (!labels.empty()) {
            out_ += '{';
            out_ += labels;
            out_ += '}';
        }
        out_ += ' ';
    }

    std::string out_;
    std::string_view name_;
};

std::string label(std::string_view key, std::string_view value) {
    return std::string(key) + "=\"" + escape_label(value) + "\"";
}

std::string number(double value) {
    char buf[64];
    // Fixed notation, shortest exact: le="0.0005", never "5e-04".
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed);
    return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

// One histogram per service: cumulative buckets (le), +Inf, sum, count.
template <typename F>
void per_service_histogram(Exposition& e, const std::vector<ServiceView>& services, F&& histogram) {
    for (const ServiceView& s : services) {
        const auto& h = histogram(s);
        std::string service = label("service", s.name);
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.in_bucket.size(); ++i) {
            cumulative += h.in_bucket[i];
            e.sample(service + "," + label("le", number((*h.bounds)[i])), cumulative, "_bucket");
        }
        e.sample(service + "," + label("le", "+Inf"), h.count, "_bucket");
        e.sample(service, h.sum, "_sum");
        e.sample(service, h.count, "_count");
    }
}

// One sample per service of `value(service)`.
template <typename F>
void per_service(Exposition& e, const std::vector<ServiceView>& services, F&& value) {
    for (const ServiceView& s : services) e.sample(label("service", s.name), static_cast<std::uint64_t>(value(s)));
}

}  // namespace

std::string escape_label(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string render_metrics(const StatusView& status, const std::vector<ServiceView>& services) {
    Exposition e;
    e.family("switchboard_build_info", "gauge", "The running switchboard's version; always 1.");
    e.sample(label("version", status.version), std::uint64_t{1});
    e.family("switchboard_uptime_seconds", "gauge", "Seconds since the server started.");
    e.sample("", status.uptime_seconds);
    e.family("switchboard_config_generation", "gauge", "Configurations applied since start, the first included.");
    e.sample("", status.generation);
    e.family("switchboard_reloads_total", "counter", "Reloads by result.");
    e.sample(label("result", "ok"), status.reloads.succeeded);
    e.sample(label("result", "failed"), status.reloads.failed);
    e.family("switchboard_last_reload_success", "gauge", "1 if the last reload succeeded (or none ran yet), else 0.");
    e.sample("", std::uint64_t{status.reloads.last_ok ? 1u : 0u});
    e.family("switchboard_last_reload_duration_seconds", "gauge", "How long the last successful reload took.");
    e.sample("", status.reloads.last_milliseconds / 1000.0);

    e.family("switchboard_accept_failures_total", "counter",
             "accept4 failures that paused accepting: for want of fds or memory (EMFILE, ENFILE, ENOBUFS, "
             "ENOMEM; every listener) or any other error (that listener).");
    e.sample("", status.accept_failures);
    e.family("switchboard_fd_budget_pauses_total", "counter", "Times every listener paused at the fd budget.");
    e.sample("", status.fd_budget_pauses);
    e.family("switchboard_fd_budget_paused", "gauge", "1 while listeners are paused at the fd budget, else 0.");
    e.sample("", std::uint64_t{status.fd_budget_paused ? 1u : 0u});
    e.family("switchboard_log_lines_dropped_total", "counter",
             "Log lines dropped because the log destination would not take them (a stalled pipe, a full disk).");
    e.sample("", status.log_lines_dropped);

    e.family("switchboard_service_enabled", "gauge", "1 if the service accepts connections, else 0.");
    per_service(e, services, [](const ServiceView& s) { return s.state == "enabled" ? 1 : 0; });
    e.family("switchboard_connections_active", "gauge", "Open connections.");
    per_service(e, services, [](const ServiceView& s) { return s.active; });
    e.family("switchboard_connections_accepted_total", "counter", "Connections accepted and admitted.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.accepted; });
    e.family("switchboard_connections_rejected_total", "counter", "Connections or datagrams refused, by reason.");
    for (const ServiceView& s : services) {
        for (std::size_t r = 0; r < server::k_reject_reasons; ++r) {
            auto reason = server::reject_reason_name(static_cast<server::RejectReason>(r));
            e.sample(label("service", s.name) + "," + label("reason", reason), s.counters.rejected[r]);
        }
    }
    e.family("switchboard_received_bytes_total", "counter", "Bytes received from clients.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.bytes_in; });
    e.family("switchboard_sent_bytes_total", "counter", "Bytes sent to clients.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.bytes_out; });
    e.family("switchboard_datagrams_received_total", "counter", "Datagrams received.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.datagrams_in; });
    e.family("switchboard_datagrams_sent_total", "counter", "Datagrams answered.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.datagrams_out; });
    e.family("switchboard_children_spawned_total", "counter", "Child processes started.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.spawned; });
    e.family("switchboard_children_spawn_failures_total", "counter", "Child processes that could not be started.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.spawn_failures; });
    e.family("switchboard_forward_failures_total", "counter",
             "Forwarded connections closed because the upstream could not be reached.");
    per_service(e, services, [](const ServiceView& s) { return s.counters.forward_failures; });
    e.family("switchboard_children_active", "gauge", "Child processes running.");
    per_service(e, services, [](const ServiceView& s) { return s.children; });
    e.family("switchboard_children_exits_total", "counter",
             "Child processes that ended: ok (exit 0) or failed (non-zero exit or a signal).");
    for (const ServiceView& s : services) {
        e.sample(label("service", s.name) + "," + label("result", "ok"), s.counters.exits_ok);
        e.sample(label("service", s.name) + "," + label("result", "failed"), s.counters.exits_failed);
    }
    // Histograms, with the bounds of server/histogram.hpp (README lists them).
    e.family("switchboard_connection_duration_seconds", "histogram",
             "Stream connections by how long they lasted, accept to close.");
    per_service_histogram(e, services, [](const ServiceView& s) -> const auto& { return s.counters.durations; });
    e.family("switchboard_spawn_latency_seconds", "histogram",
             "Children of connections by the time from accept until the child runs.");
    per_service_histogram(e, services, [](const ServiceView& s) -> const auto& { return s.counters.spawn_latency; });
    e.family("switchboard_control_refused_total", "counter",
             "Control requests or connections turned away, by reason: malformed (a line that is not a request), "
             "denied (role or token), busy (no connection slot for the peer), deadline (a request too slow).");
    const ControlRefusals& refused = status.control_refused;
    e.sample(label("reason", "malformed"), refused.malformed);
    e.sample(label("reason", "denied"), refused.denied);
    e.sample(label("reason", "busy"), refused.busy);
    e.sample(label("reason", "deadline"), refused.deadline);
    return e.take();
}

}  // namespace sb::control
