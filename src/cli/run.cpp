// `switchboard run`: load, bind, serve until a stop signal.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include "cli/cli.hpp"
#include "control/control_server.hpp"
#include "control/metrics_endpoint.hpp"
#include "control/systemd.hpp"
#include "log/log.hpp"
#include "process/fd_limit.hpp"
#include "server/config_watcher.hpp"
#include "server/server.hpp"
#include "switchboard/config/load.hpp"
#include "uv/loop.hpp"

namespace sb::cli {
namespace {

}  // namespace

int run(const std::string& config_path) {
    // systemd's LISTEN_* are read (and unset) first, before anything
    // could hand them on.
    std::string passed_problem;
    server::PassedSockets passed = server::PassedSockets::from_environment(passed_problem);
    auto loaded = config::load_file(config_path);
    if (!loaded.config) {
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "switchboard: %s has %zu error%s; not starting\n", config_path.c_str(),
                     loaded.errors.size(), loaded.errors.size() == 1 ? "" : "s");
        return 2;
    }
    if (std::string err = log::configure(loaded.config->log); !err.empty()) {
        std::fprintf(stderr, "switchboard: %s\n", err.c_str());
        return 2;
    }
    // The fd budget starts at the hard limit: connections are cheap here, and
    // running out early would refuse clients the machine could serve.
    // Children get the starting soft limit back (process/fd_limit.hpp).
    rlim_t fds = process::raise_fd_limit();

    uv::Loop loop;
    if (!loop.ok()) {
        log::error("loop-init-failed");
        return 1;
    }
    int exit_code = 0;
    {
        server::Server server(loop.get());
        if (!passed_problem.empty()) log::warning("listen-fds-ignored", {{"reason", passed_problem}});
        server.take_passed_sockets(std::move(passed));
        if (int rc = server.start(loaded.config->file); rc != 0) {
            log::error("start-failed", {{"error", uv_strerror(rc)}});
            // Some signal handles or timers may be open already; the Server
            // may not die while libuv still holds them.
            server.shutdown(true);
            loop.run();
            return 1;
        }
        auto report = server.apply(*loaded.config);
        if (!report.ok()) {
            for (const auto& e : report.errors) std::fprintf(stderr, "switchboard: %s\n", e.c_str());
            server.shutdown(true);
            loop.run();
            return 1;
        }
        // The control socket and the config watcher follow the server from
        // here on; the server's closing closes them, on every path.
        control::ControlServer control(server);
        server::ConfigWatcher watcher(server);
        control::SystemdNotify systemd(server);
        control::MetricsEndpoint metrics(server, control);
        server.add_observer(&control);
        server.add_observer(&metrics);
        server.add_observer(&watcher);
        server.add_observer(&systemd);
        std::string control_error = control.start(server.config().control);
        if (int rc = control_error.empty() ? watcher.start(server.config()) : 0; !control_error.empty() || rc != 0) {
            std::fprintf(stderr, "switchboard: %s\n",
                         control_error.empty() ? "cannot start the configuration watcher" : control_error.c_str());
            server.shutdown(true);
            loop.run();
            return 1;
        }
        server.print_table();
        log::info("ready", {{"version", SWITCHBOARD_VERSION}, {"config", loaded.config->file},
                            {"pid", static_cast<long>(getpid())}, {"fd_limit", static_cast<unsigned long>(fds)}});
        systemd.started(server.config());
        loop.run();
    }
    if (loop.close() != 0) {
        log::error("loop-not-empty");
        exit_code = 1;
    }
    // The loop is gone: the last lines may wait a moment for a slow reader.
    log::finish(std::chrono::seconds(2));
    return exit_code;
}

}  // namespace sb::cli
