// Snapshots of the running server for the control socket (see state.hpp).
#include "control/state.hpp"

#include <unistd.h>

#include "log/log.hpp"

namespace sb::control {

StatusView snapshot_status(const server::ServerControl& server, const ControlHistory& history) {
    server::StatusSnapshot snapshot = server.status_snapshot();
    StatusView s;
    s.version = SWITCHBOARD_VERSION;
    s.pid = static_cast<long>(::getpid());
    s.uptime_seconds = snapshot.uptime_seconds;
    s.config_file = std::move(snapshot.config_file);
    s.generation = snapshot.generation;
    s.connections = snapshot.connections;
    s.children = snapshot.children;
    s.services = snapshot.services;
    s.stopping = snapshot.stopping;
    s.reloads = history.reloads;
    s.control_refused = history.refused;
    s.accept_failures = snapshot.accept_failures;
    s.fd_budget_pauses = snapshot.fd_budget_pauses;
    s.fd_budget_paused = snapshot.fd_budget_paused;
    s.log_lines_dropped = log::dropped_lines();
    return s;
}

std::vector<ServiceView> snapshot_services(const server::ServerControl& server) { return server.service_snapshots(); }

std::vector<ConnectionView> snapshot_connections(const server::ServerControl& server) {
    return server.connection_snapshots();
}

void log_state(const StatusView& s, const std::vector<ServiceView>& services) {
    log::info("state", {{"version", s.version}, {"pid", s.pid}, {"uptime", s.uptime_seconds},
                        {"config", s.config_file}, {"generation", s.generation}, {"connections", s.connections},
                        {"children", s.children}, {"services", s.services}, {"stopping", s.stopping},
                        {"reloads_ok", s.reloads.succeeded}, {"reloads_failed", s.reloads.failed}});
    for (const ServiceView& v : services) {
        std::string listeners;
        for (const auto& l : v.listeners) listeners += (listeners.empty() ? "" : ",") + l;
        log::info("state-service",
                  {{"service", v.name}, {"kind", v.kind}, {"action", v.action}, {"state", v.state},
                   {"listen", listeners.empty() ? std::string("-") : listeners}, {"active", v.active},
                   {"accepted", v.counters.accepted}, {"rejected", v.counters.rejected_total()},
                   {"spawned", v.counters.spawned}, {"children", v.children}, {"in", v.counters.bytes_in},
                   {"out", v.counters.bytes_out}});
    }
}

}  // namespace sb::control
