// The control socket's view of the running server: plain snapshots taken
// from the Server on the loop thread, rendered as replies, metrics or a
// state dump. Keeping the renderers on these values (not on the Server)
// lets the tests feed them a fake state.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "server/service_runtime.hpp"

namespace sb::server {
class Server;
}

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
    ReloadHistory reloads;
};

struct ServiceView {
    std::string name;
    std::string kind;    // "builtin" or "exec"
    std::string action;  // "echo", or the program
    std::vector<std::string> listeners;
    std::string state;  // "enabled", "disabled" or "draining"
    std::uint32_t active = 0;
    std::uint32_t children = 0;
    // Byte counts include the connections still open, so they only grow.
    server::ServiceCounters counters;
};

struct ConnectionView {
    std::uint64_t id = 0;
    std::string service;
    std::string peer;
    double age_seconds = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    pid_t pid = 0;  // 0: no child
};

StatusView snapshot_status(const server::Server& server, const ReloadHistory& reloads);
// The configured services by name, then removed services still draining.
std::vector<ServiceView> snapshot_services(const server::Server& server);
// Oldest first.
std::vector<ConnectionView> snapshot_connections(const server::Server& server);

// SIGUSR1: the status and every service, one log line each.
void log_state(const StatusView& status, const std::vector<ServiceView>& services);

}  // namespace sb::control
