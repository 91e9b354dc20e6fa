// The connection registry: the open connections (ConnectionList, oldest
// first), what their sessions report (done, a child started or ended), the
// children counted per service, and the sweep that enforces idle,
// max_duration and drain deadlines. A finished connection's record, which
// owns its session, is freed on the next loop turn (the graveyard), since
// the session reports from inside its own close callback.
#include "log/log.hpp"
#include "server/server.hpp"

#include <cstring>

namespace sb::server {
namespace {

constexpr std::uint64_t k_housekeeping_ms = 1000;  // reject-log summaries, per-source pruning

}  // namespace

void Connection::on_session_done(services::Session&, const services::Outcome& outcome) {
    server->connection_done(*this, outcome);
}

void Connection::on_child_spawned(services::Session&, pid_t pid) {
    service->counters.spawn_latency.observe(static_cast<double>(uv_hrtime() - accepted_ns) / 1e9);
    server->child_spawned(*service, pid);
}

void Connection::on_spawn_failed(services::Session&, std::string_view error) {
    server->spawn_failed(*service, peer.to_string(), error);
}

void Connection::on_child_exited(services::Session&, pid_t pid, int exit_code, int signal) {
    server->child_exited(*service, pid, exit_code, signal);
}

std::vector<std::string> Connection::tcpmux_names() const { return server->tcpmux_names(); }

std::string Connection::tcpmux_hand_over(std::string_view name, Fd& fd) {
    return server->tcpmux_hand_over(*this, name, fd);
}

void Connection::on_forward_failed(services::Session&, std::string_view error) {
    server->forward_failed(*service, peer.to_string(), error);
}

bool Connection::on_fds_changed(services::Session&, int delta) {
    if (delta > 0) {
        if (!server->fd_budget_.can_spawn(static_cast<std::uint64_t>(delta))) return false;
        fds.grow(static_cast<std::uint32_t>(delta));
    } else {
        fds.shrink(static_cast<std::uint32_t>(-delta));
    }
    server->update_fd_pause();
    return true;
}

void Server::forward_failed(ServiceRuntime& service, const std::string& peer, std::string_view error) {
    ++service.counters.forward_failures;
    log::warning("forward-failed", {{"service", service.name()}, {"peer", peer}, {"error", error}});
}

void Server::child_spawned(ServiceRuntime& service, pid_t pid) {
    ++service.counters.spawned;
    service.admission.child_started(global_);
    refresh_pauses(service);
    log::debug("spawned", {{"service", service.name()}, {"pid", static_cast<long>(pid)}});
}

void Server::spawn_failed(ServiceRuntime& service, const std::string& peer, std::string_view error) {
    ++service.counters.spawn_failures;
    log::error("spawn-failed", {{"service", service.name()}, {"peer", peer}, {"error", error}});
}

void Server::child_exited(ServiceRuntime& service, pid_t, int exit_code, int) {
    (exit_code == 0 ? service.counters.exits_ok : service.counters.exits_failed)++;
    service.admission.child_exited(global_);
    if (service.removed) {
        if (global_.take_full_changed()) refresh_all_pauses();
        return;
    }
    // A wait-mode listener paused at max_children may hand off again.
    refresh_pauses(service);
}

void Server::connection_done(Connection& connection, const services::Outcome& outcome) {
    Connection* c = &connection;
    const services::Session& session = *c->session;
    ServiceRuntime& service = *c->service;
    service.counters.bytes_in += session.bytes_in();
    service.counters.bytes_out += session.bytes_out();
    service.admission.release(global_, c->ticket, uv_now(loop_));
    c->fds.reset();
    double seconds = static_cast<double>(uv_now(loop_) - c->started) / 1000.0;
    service.counters.durations.observe(seconds);
    if (outcome.pid != 0) {
        log::info("conn", {{"service", service.name()}, {"peer", c->peer.to_string()}, {"duration", seconds},
                           {"in", session.bytes_in()}, {"out", session.bytes_out()}, {"reason", outcome.reason},
                           {"pid", static_cast<long>(outcome.pid)}, {"exit", outcome.exit_code},
                           {"signal", outcome.signal}});
    } else if (std::string upstream = session.upstream(); !upstream.empty()) {
        log::info("conn", {{"service", service.name()}, {"peer", c->peer.to_string()}, {"upstream", upstream},
                           {"duration", seconds}, {"in", session.bytes_in()}, {"out", session.bytes_out()},
                           {"reason", outcome.reason}});
    } else {
        log::info("conn", {{"service", service.name()}, {"peer", c->peer.to_string()}, {"duration", seconds},
                           {"in", session.bytes_in()}, {"out", session.bytes_out()}, {"reason", outcome.reason}});
    }
    if (outcome.error != 0) {
        log::warning("conn-error", {{"service", service.name()}, {"peer", c->peer.to_string()},
                                    {"error", std::strerror(outcome.error)}});
    }
    connections_.erase(c);
    if (!service.removed) {
        refresh_pauses(service);
    } else if (global_.take_full_changed()) {
        refresh_all_pauses();
    }
    update_fd_pause();
    bury(c);
}

void Server::bury(Connection* c) {
    // The session is still on the stack of its own close callback: free it later.
    graveyard_.push_back(c);
    graveyard_timer_.start(std::chrono::milliseconds(0));
}

void Server::sweep() {
    std::uint64_t now = uv_now(loop_);
    if (now - last_housekeeping_ >= k_housekeeping_ms) {
        last_housekeeping_ = now;
        auto tidy = [now](ServiceRuntime& s) {
            s.admission.flush_log(now);
            s.admission.prune(now);
        };
        for (auto& [name, runtime] : services_) tidy(*runtime);
        // Fds the budget was not told about (control connections, a log
        // file reopened) make the count drift; while it holds accepting
        // back, count the table itself so the pause ends when it should.
        if (fd_budget_.should_pause()) {
            (void)fd_budget_.measure();
            update_fd_pause();
        }
    }
    connections_.for_each([&](Connection& c) {
        const auto& t = c.definition->timeouts;
        if (c.service->removed && c.service->drain_deadline != 0 && now >= c.service->drain_deadline) {
            c.session->stop("drained");
        } else if (t.max_duration.count() > 0 &&
                   now - c.started >= static_cast<std::uint64_t>(t.max_duration.count())) {
            c.session->stop("max_duration");
        } else if (t.idle.count() > 0 &&
                   now - c.session->last_activity() >= static_cast<std::uint64_t>(t.idle.count())) {
            c.session->stop("idle");
        }
    });
}

}  // namespace sb::server
