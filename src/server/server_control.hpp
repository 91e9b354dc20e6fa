// ServerControl: the narrow face the server shows to the parts above it
// (the control socket, the config watcher): snapshots to read, a few
// commands that change state, and ServerObserver to follow it. Those parts
// see nothing else of the server. Loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/fd_budget.hpp"
#include "server/snapshot.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/config.hpp"

namespace sb::server {

// What an apply changed, for the reload log line and the control socket.
struct ApplyReport {
    std::vector<std::string> added, changed, removed, kept;
    std::vector<std::string> errors;
    double load_milliseconds = 0;   // reading and validating the files (0 when handed a Config)
    double apply_milliseconds = 0;  // carrying out the plan
    double milliseconds = 0;        // both: what the reload cost
    [[nodiscard]] bool ok() const { return errors.empty(); }
};

// Parts above the server (the control socket, the config watcher) follow
// it through this interface, so the server knows nothing about them.
class ServerObserver {
public:
    // After every successful apply (start and reloads).
    virtual void on_applied(const config::Config& config, const ApplyReport& report) = 0;
    // After every reload that failed, whatever asked for it; the running
    // configuration is unchanged. A failed first apply is not a reload.
    virtual void on_reload_failed(const ApplyReport& report) = 0;
    // SIGUSR1: write a state dump to the log.
    virtual void on_dump_requested() = 0;
    // A reload begins (SIGHUP, ctl reload, the watcher), before the files
    // are read; on_applied or on_reload_failed follows for each one.
    virtual void on_reload_started(std::string_view /*trigger*/) {}
    // The first shutdown() or drain(): the server stops accepting and
    // drains; on_closing follows once that is over.
    virtual void on_stopping() {}
    // The server is closing its handles; close yours now.
    virtual void on_closing() = 0;

protected:
    ~ServerObserver() = default;
};

class ServerControl {
public:
    // The outcome of one reload, delivered on the loop thread.
    using ReloadDone = std::function<void(const ApplyReport& report)>;
    // Takes a connection accepted on the metrics listener (metrics.listen)
    // with the fd-budget lease it holds; the lease must live as long as the
    // fd is open, and no longer than the server.
    using MetricsHandler = std::function<void(Fd fd, FdLease lease)>;

    [[nodiscard]] virtual uv_loop_t* loop() const = 0;
    virtual void add_observer(ServerObserver* observer) = 0;
    // Who serves the metrics listener; without one its connections are closed.
    virtual void set_metrics_handler(MetricsHandler handler) = 0;

    [[nodiscard]] virtual StatusSnapshot status_snapshot() const = 0;
    // The configured services by name, then removed services still draining.
    [[nodiscard]] virtual std::vector<ServiceSnapshot> service_snapshots() const = 0;
    // Oldest first.
    [[nodiscard]] virtual std::vector<ConnectionSnapshot> connection_snapshots() const = 0;
    [[nodiscard]] virtual bool stopping() const = 0;
    [[nodiscard]] virtual std::uint64_t generation() const = 0;
    [[nodiscard]] virtual std::size_t connection_count() const = 0;

    // Commands (see Server for what each does).
    virtual void reload(std::string_view trigger, ReloadDone done) = 0;
    [[nodiscard]] virtual bool set_enabled(const std::string& name, bool enabled) = 0;
    virtual void drain() = 0;

protected:
    ~ServerControl() = default;
};

}  // namespace sb::server
