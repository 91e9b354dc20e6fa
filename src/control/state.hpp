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
    std::uint64_t log_lines_dropped = 0;  // the log's queue was full, or its destination failed
    ReloadHistory reloads;
};

// What `ctl services` and `ctl connections` show: the server's own snapshots.
using ServiceView = server::ServiceSnapshot;
using ConnectionView = server::ConnectionSnapshot;

StatusView snapshot_status(const server::ServerControl& server, const ReloadHistory& reloads);
// The configured services by name, then removed services still draining.
std::vector<ServiceView> snapshot_services(const server::ServerControl& server);
// Oldest first.
std::vector<ConnectionView> snapshot_connections(const server::ServerControl& server);

// SIGUSR1: the status and every service, one log line each.
void log_state(const StatusView& status, const std::vector<ServiceView>& services);

}  // namespace sb::control
