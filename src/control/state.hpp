// The control socket's view of the running server: the plain snapshots
// server/ produces (server/snapshot.hpp), rendered as replies, metrics or a
// state dump. Keeping the renderers on these values (not on the Server)
// lets the tests feed them a fake state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "server/server_control.hpp"

namespace sb::control {

// What the control socket has seen of reloads, whatever triggered them
// (SIGHUP, ctl reload, the watcher): successes from
// ServerObserver::on_applied, failures from on_reload_failed.
struct ReloadHistory {
    std::uint64_t succeeded = 0;
    std::uint64_t failed = 0;
    bool last_ok = true;
    double last_milliseconds = 0;
};

// What the control socket turned away (control_server.hpp says when).
struct ControlRefusals {
    std::uint64_t malformed = 0;  // request lines that did not parse (on TCP the connection was closed)
    std::uint64_t denied = 0;     // requests refused by role or token
    std::uint64_t busy = 0;       // connections turned away: no slot free for this peer
    std::uint64_t deadline = 0;   // connections closed because a request took too long
};

// What the ControlServer keeps of its own history.
struct ControlHistory {
    ReloadHistory reloads;
    ControlRefusals refused;
};

struct StatusView {
    std::string version;
    long pid = 0;
    double uptime_seconds = 0;
    std::string config_file;
    std::uint64_t generation = 0;
    std::uint64_t connections = 0;
    std::uint64_t children = 0;
    std::uint64_t services = 0;
    bool stopping = false;
    std::uint64_t accept_failures = 0;
    std::uint64_t fd_budget_pauses = 0;
    bool fd_budget_paused = false;
    std::uint64_t log_lines_dropped = 0;  // the log's queue was full, or its destination failed
    ReloadHistory reloads;
    ControlRefusals control_refused;  // metrics only
};

// What `ctl services` and `ctl connections` show: the server's own snapshots.
using ServiceView = server::ServiceSnapshot;
using ConnectionView = server::ConnectionSnapshot;

StatusView snapshot_status(const server::ServerControl& server, const ControlHistory& history);
// The configured services by name, then removed services still draining.
std::vector<ServiceView> snapshot_services(const server::ServerControl& server);
// Oldest first.
std::vector<ConnectionView> snapshot_connections(const server::ServerControl& server);

// SIGUSR1: the status and every service, one log line each.
void log_state(const StatusView& status, const std::vector<ServiceView>& services);

}  // namespace sb::control
