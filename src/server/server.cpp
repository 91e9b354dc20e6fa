// Server: construction, start (signal handles and timers) and the start-up
// table. The rest of the server lives in the files named in server.hpp.
#include "server/server.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <cstdio>

#include "log/child_stderr.hpp"
#include "log/log.hpp"
#include "sys/faults.hpp"

namespace sb::server {

namespace {

std::string_view transport_name(net::Transport t) {
    switch (t) {
        case net::Transport::tcp: return "tcp";
        case net::Transport::udp: return "udp";
        case net::Transport::unix_stream: return "unix";
    }
    return "?";
}

constexpr std::chrono::milliseconds k_sweep_interval{250};

}  // namespace

Server::Server(uv_loop_t* loop) : loop_(loop), fd_budget_(FdBudget::of_process()) {}

Server::~Server() {
    // Normal exit closes everything first; this only frees leftovers of a
    // loop that was abandoned.
    for (Connection* c : graveyard_) delete c;
}

int Server::start(std::string config_path) {
    config_path_ = std::move(config_path);
    started_at_ = uv_now(loop_);
    reload_.loop_thread = uv_thread_self();
    std::signal(SIGPIPE, SIG_IGN);
    auto on_stop = [this](int) { shutdown(stopping_); };
    int rc = sigterm_.start(loop_, SIGTERM, on_stop);
    if (rc == 0) rc = sigint_.start(loop_, SIGINT, on_stop);
    if (rc == 0) rc = sighup_.start(loop_, SIGHUP, [this](int) { reload("SIGHUP"); });
    if (rc == 0) rc = sigusr1_.start(loop_, SIGUSR1, [this](int) {
        for (auto* o : observers_) o->on_dump_requested();
    });
    if (const char* faults = std::getenv("SWITCHBOARD_FAULTS"); rc == 0 && faults != nullptr && *faults != '\0') {
        faults_file_ = faults;
        load_faults();
        rc = sigusr2_.start(loop_, SIGUSR2, [this](int) { load_faults(); });
    }
    if (rc == 0) rc = sweep_timer_.init(loop_);
    if (rc == 0) rc = grace_timer_.init(loop_);
    if (rc == 0) rc = fd_pause_timer_.init(loop_);
    if (rc == 0) rc = graveyard_timer_.init(loop_);
    if (rc == 0) rc = revive_timer_.init(loop_);
    if (rc != 0) return rc;
    sweep_timer_.on_fire([this] {
        log::flush();  // lines a stalled log destination would not take yet
        log::flush_child_stderr(uv_now(loop_));
        sweep();
    });
    sweep_timer_.start(k_sweep_interval, k_sweep_interval);
    sweep_timer_.unref();
    grace_timer_.on_fire([this] {
        log::info("shutdown-grace-expired", {{"connections", connections_.size()}});
        connections_.for_each([](Connection& c) { c.session->stop("shutdown"); });
        terminate_retired_waiters();
    });
    fd_pause_timer_.on_fire([this] {
        fd_backoff_ = false;
        (void)fd_budget_.measure();
        update_fd_pause();
    });
    revive_timer_.on_fire([this] { revive_dead_listeners(); });
    graveyard_timer_.on_fire([this] {
        for (Connection* c : graveyard_) delete c;
        graveyard_.clear();
        finish_if_drained();
    });
    return 0;
}

void Server::load_faults() {
    // A test's file of a few bytes: read in one go, on the loop.
    std::string spec;
    if (std::FILE* f = std::fopen(faults_file_.c_str(), "re")) {
        char buffer[4096];
        std::size_t n = std::fread(buffer, 1, sizeof buffer, f);
        spec.assign(buffer, n);
        std::fclose(f);
    } else {
        log::error("faults", {{"file", faults_file_}, {"error", std::strerror(errno)}});
        return;
    }
    std::string error;
    auto faults = sys::parse_faults(spec, error);
    if (!faults) {
        log::error("faults", {{"file", faults_file_}, {"error", error}});
        return;
    }
    // Said before arming, so that a log_write fault does not swallow it.
    log::warning("faults", {{"armed", sys::describe_faults(*faults)}});
    sys::arm_faults(*faults);
}

void Server::print_table() const {
    std::string out = "SERVICE              PROTO  ADDRESS                                  ACTION\n";
    for (const auto& [name, service] : services_) {
        for (const auto& l : service->definition->listen) {
            char line[512];
            std::snprintf(line, sizeof line, "%-20s %-6s %-40s %s%s\n", name.c_str(),
                          std::string(transport_name(l.endpoint.transport)).c_str(), l.endpoint.to_string().c_str(),
                          service->kind->describe().table.c_str(),
                          service->disabled ? " (disabled)" : "");
            out += line;
        }
        if (const auto& mux = service->definition->tcpmux) {
            char line[512];
            std::snprintf(line, sizeof line, "%-20s %-6s %-40s %s%s\n", name.c_str(), "tcpmux",
                          (mux->name + (mux->plus ? " (+)" : "")).c_str(), service->kind->describe().table.c_str(),
                          service->disabled ? " (disabled)" : "");
            out += line;
        }
    }
    (void)!::write(STDERR_FILENO, out.data(), out.size());
}

}  // namespace sb::server
