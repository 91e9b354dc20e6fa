// Server: accepting, sessions, signals, timers and shutdown. Applying a
// configuration lives in apply.cpp.
#include "server/server.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "log/log.hpp"
#include "net/socket.hpp"
#include "services/builtin_datagram.hpp"
#include "services/builtin_stream.hpp"
#include "services/exec_session.hpp"
#include "switchboard/config/load.hpp"

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

std::string_view action_name(const config::Service& s) {
    if (const auto* b = s.builtin()) {
        switch (*b) {
            case config::Builtin::echo: return "builtin echo";
            case config::Builtin::discard: return "builtin discard";
            case config::Builtin::chargen: return "builtin chargen";
            case config::Builtin::daytime: return "builtin daytime";
            case config::Builtin::time: return "builtin time";
        }
    }
    return "exec";
}

process::ConnectionInfo connection_info(const Listener& listener, int fd, const net::SockAddr& peer) {
    process::ConnectionInfo info;
    switch (listener.endpoint().transport) {
        case net::Transport::tcp: info.proto = process::ConnectionInfo::Proto::tcp; break;
        case net::Transport::udp: info.proto = process::ConnectionInfo::Proto::udp; break;
        case net::Transport::unix_stream: info.proto = process::ConnectionInfo::Proto::unix_stream; break;
    }
    if (info.proto == process::ConnectionInfo::Proto::unix_stream) {
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            info.peer_uid = cred.uid;
            info.peer_gid = cred.gid;
            info.peer_pid = cred.pid;
        }
        return info;
    }
    net::SockAddr local = net::local_address(fd);
    info.remote_ip = peer.host();
    info.remote_port = peer.port();
    info.local_ip = local.host();
    info.local_port = local.port();
    return info;
}

constexpr std::chrono::milliseconds k_sweep_interval{250};
constexpr std::chrono::milliseconds k_fd_pause{250};
constexpr std::uint64_t k_housekeeping_ms = 1000;  // reject-log summaries, per-source pruning

// The fds a connection keeps while it runs, for the fd budget: the client
// socket; with io "splice" also the child's stdin and stdout pipes, its
// stderr pipe and its pidfd; with io "socket" the client goes to the child
// and the server keeps the stderr pipe and the pidfd.
std::uint32_t fds_per_connection(const config::Service& def) {
    const auto* exec = def.exec();
    if (exec == nullptr) return 1;
    return exec->io == config::IoMode::splice ? 5 : 2;
}

// What a wait-mode child costs the server while it runs: its pidfd, its
// stderr pipe, and the service's duplicate of the socket.
constexpr std::uint32_t k_wait_child_fds = 3;

// The fds a spawn needs for a moment beyond what the connection keeps:
// the child's ends of its pipes, until the child has them.
constexpr std::uint32_t k_spawn_transient_fds = 3;

// What an admitted client is sent first: xinetd's banner_success, then banner.
std::string greeting(const config::Admission& a) {
    if (a.banner_success.empty()) return a.banner.text;
    return a.banner_success.text + a.banner.text;
}

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
    if (rc == 0) rc = sweep_timer_.init(loop_);
    if (rc == 0) rc = grace_timer_.init(loop_);
    if (rc == 0) rc = fd_pause_timer_.init(loop_);
    if (rc == 0) rc = graveyard_timer_.init(loop_);
    if (rc != 0) return rc;
    sweep_timer_.on_fire([this] { sweep(); });
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
    graveyard_timer_.on_fire([this] {
        for (Connection* c : graveyard_) delete c;
        graveyard_.clear();
        finish_if_drained();
    });
    return 0;
}

// One load of the configuration files. The threadpool runs load_on_worker()
// on one of its threads, then after_load() on the loop. The worker touches
// `path`, `result` and `load_milliseconds` only, and the loop touches none
// of them until after_load(): libuv orders the two callbacks, so the job
// needs no lock. Everything else in it is the loop's.
struct Server::ReloadJob {
    uv_work_t work{};
    Server* server = nullptr;  // null once the Server is gone: after_load() then only frees the job
    uv_thread_t loop_thread{};
    std::string trigger;
    std::vector<ReloadDone> waiting;  // answered with this load's outcome

    std::string path;
    config::LoadResult result;
    double load_milliseconds = 0;
};

namespace {

[[maybe_unused]] bool is_thread(const uv_thread_t& thread) {
    uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &thread) != 0;
}

std::string join_triggers(const std::vector<std::string>& triggers) {
    std::string out;
    for (const auto& t : triggers) out += (out.empty() ? "" : "+") + t;
    return out;
}

void answer(std::vector<Server::ReloadDone>& waiting, const ApplyReport& report) {
    for (auto& done : waiting) done(report);
    waiting.clear();
}

}  // namespace

Server::ReloadState::~ReloadState() {
    if (in_flight == nullptr) return;
    in_flight->server = nullptr;
    in_flight->waiting.clear();  // their owners may be gone too: never call them
}

bool Server::on_loop_thread() const { return is_thread(reload_.loop_thread); }

void Server::reload(std::string_view trigger, ReloadDone done) {
    assert(on_loop_thread());
    if (stopping_) {
        ApplyReport report;
        report.errors.emplace_back("the server is shutting down");
        if (done) done(report);
        return;
    }
    if (done) reload_.waiting.push_back(std::move(done));
    auto& triggers = reload_.next_triggers;
    if (std::find(triggers.begin(), triggers.end(), trigger) == triggers.end()) triggers.emplace_back(trigger);
    // A load in flight may have read the files before this request was
    // made: the request waits for the next one, which finish_load() starts.
    if (reload_.in_flight == nullptr) start_load();
}

void Server::start_load() {
    auto* job = new ReloadJob;
    job->server = this;
    job->loop_thread = reload_.loop_thread;
    job->trigger = join_triggers(reload_.next_triggers);
    reload_.next_triggers.clear();
    job->waiting = std::move(reload_.waiting);
    reload_.waiting.clear();
    job->path = config_path_;
    job->work.data = job;

    // Threadpool thread. config::load_file keeps no state between calls
    // and shares none with the loop: it reads files through its own fds
    // (O_CLOEXEC, so a child spawned meanwhile inherits none), asks NSS
    // through the reentrant getpwnam_r/getgrnam_r/getgrouplist, expands
    // includes with glob() without GLOB_TILDE (so no getenv or utmp), uses
    // glibc's thread-safe strerror, and never logs. The only process-wide
    // state it reads is the working directory, which nothing changes
    // after start (a child's chdir happens in the child, without CLONE_FS).
    auto load_on_worker = [](uv_work_t* work) {
        auto* j = static_cast<ReloadJob*>(work->data);
        assert(!is_thread(j->loop_thread));
        auto t0 = std::chrono::steady_clock::now();
        j->result = config::load_file(j->path);
        j->load_milliseconds =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    };
    // Loop thread, whether the load ran, failed, or was cancelled.
    auto after_load = [](uv_work_t* work, int status) {
        std::unique_ptr<ReloadJob> j(static_cast<ReloadJob*>(work->data));
        if (j->server != nullptr) j->server->finish_load(*j, status);
    };
    if (int rc = uv_queue_work(loop_, &job->work, load_on_worker, after_load); rc != 0) {
        // libuv refuses only a missing callback; still, nobody may wait forever.
        std::unique_ptr<ReloadJob> j(job);
        ApplyReport report;
        report.errors.push_back(std::string("cannot start loading the configuration: ") + uv_strerror(rc));
        log::error("reload-failed", {{"trigger", j->trigger}, {"error", uv_strerror(rc)}});
        for (auto* o : observers_) o->on_reload_failed(report);
        answer(j->waiting, report);
        return;
    }
    reload_.in_flight = job;
    log::debug("reload-loading", {{"trigger", job->trigger}, {"file", job->path}});
}

void Server::finish_load(ReloadJob& job, int status) {
    assert(on_loop_thread());
    reload_.in_flight = nullptr;
    ApplyReport report;
    if (stopping_) {
        // Shutting down: apply nothing, and start no further load. Those
        // who asked since get the same answer.
        report.errors.emplace_back("the server is shutting down; the reload was not applied");
        log::info("reload-abandoned", {{"trigger", job.trigger}});
        reload_.next_triggers.clear();
        std::vector<ReloadDone> waiting = std::move(job.waiting);
        for (auto& done : reload_.waiting) waiting.push_back(std::move(done));
        reload_.waiting.clear();
        answer(waiting, report);
        return;
    }
    if (status != 0) {
        // Only uv_cancel() makes one, and nothing calls it; still, say so.
        report.errors.push_back(std::string("loading the configuration did not run: ") + uv_strerror(status));
        log::error("reload-failed", {{"trigger", job.trigger}, {"error", uv_strerror(status)}});
    } else if (!job.result.config) {
        for (const auto& e : job.result.errors) report.errors.push_back(e.to_string());
        report.load_milliseconds = report.milliseconds = job.load_milliseconds;
        log::error("reload-failed", {{"trigger", job.trigger}, {"errors", report.errors.size()},
                                     {"ms", report.milliseconds}});
        for (const auto& e : report.errors) log::error("config-error", {{"detail", e}});
    } else {
        report = apply(*job.result.config, job.load_milliseconds);
    }
    if (!report.ok()) {
        for (auto* o : observers_) o->on_reload_failed(report);
    }
    // Requests that came in during this load start the next one before
    // anyone is answered, so an answer that asks again joins a fresh load.
    if (!reload_.next_triggers.empty()) start_load();
    answer(job.waiting, report);
}

void Server::print_table() const {
    std::string out = "SERVICE              PROTO  ADDRESS                                  ACTION\n";
    for (const auto& [name, service] : services_) {
        for (const auto& l : service->definition->listen) {
            char line[512];
            std::snprintf(line, sizeof line, "%-20s %-6s %-40s %s%s\n", name.c_str(),
                          std::string(transport_name(l.endpoint.transport)).c_str(), l.endpoint.to_string().c_str(),
                          std::string(action_name(*service->definition)).c_str(),
                          service->disabled ? " (disabled)" : "");
            out += line;
        }
    }
    (void)!::write(STDERR_FILENO, out.data(), out.size());
}

void Server::on_accepted(Listener& listener, int fd, const net::SockAddr& peer) {
    fd_budget_.acquire_fd(fd);
    auto it = listener_services_.find(&listener);
    if (it == listener_services_.end()) {
        ::close(fd);
        fd_budget_.release();
        return;
    }
    ServiceRuntime& service = *it->second;
    const config::Service& def = *service.definition;
    const std::uint32_t fds = fds_per_connection(def);
    if (fds > 1 && !fd_budget_.can_spawn(fds - 1 + k_spawn_transient_fds)) {
        reject(service, fd, peer, RejectReason::fd_budget);
        update_fd_pause();
        return;
    }
    Decision decision = service.admission.admit(global_, peer, fd, uv_now(loop_));
    if (!decision.admitted()) {
        reject(service, fd, peer, *decision.rejected);
        return;
    }
    fd_budget_.acquire(fds - 1);
    net::apply_accepted_options(fd, listener.listen().options, listener.endpoint().transport);

    auto* c = new Connection;
    c->server = this;
    c->id = next_connection_id_++;
    c->service = it->second;
    c->definition = service.definition;
    c->peer = peer;
    c->ticket = decision.ticket;
    c->fds = fds;
    c->started = uv_now(loop_);
    if (const auto* builtin = def.builtin()) {
        c->session = std::make_unique<services::BuiltinStream>(loop_, *c, fd, *builtin, greeting(def.admission));
    } else {
        c->session = std::make_unique<services::ExecSession>(loop_, *c, fd, service.definition,
                                                             connection_info(listener, fd, peer), spawner_,
                                                             greeting(def.admission));
    }
    connections_.push_back(c);
    ++service.counters.accepted;
    update_pauses(service);
    update_fd_pause();
    c->session->start();
}

void Server::count_reject(ServiceRuntime& service, const net::SockAddr& peer, RejectReason reason) {
    ++service.counters.rejected[static_cast<std::size_t>(reason)];
    service.admission.log_reject(peer, reason, uv_now(loop_));
}

void Server::reject(ServiceRuntime& service, int fd, const net::SockAddr& peer, RejectReason reason) {
    count_reject(service, peer, reason);
    const auto& fail = service.definition->admission.banner_fail.text;
    // One try, never blocking: a rejected client gets what fits its socket buffer.
    if (!fail.empty()) (void)!::send(fd, fail.data(), fail.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::close(fd);
    fd_budget_.release();
}

void Server::update_pauses(ServiceRuntime& service) {
    // A server-wide limit that filled or freed concerns every service.
    if (global_.take_full_changed()) {
        update_all_pauses();
        return;
    }
    bool at_limit = service.admission.should_pause(global_);
    for (Listener* l : service.listeners) {
        // Datagrams to built-ins are not connections: no connection limit
        // holds them back. A UDP wait service pauses at max_children.
        if (l->is_datagram() && service.definition->builtin() != nullptr) continue;
        l->set_paused(k_pause_limit, at_limit);
    }
}

void Server::update_all_pauses() {
    (void)global_.take_full_changed();
    for (auto& [name, runtime] : services_) update_pauses(*runtime);
}

void Server::update_fd_pause() {
    bool pause = fd_backoff_ || fd_budget_.should_pause();
    if (pause == fd_paused_) return;
    fd_paused_ = pause;
    if (pause) {
        log::warning("fd-budget-pause", {{"open", fd_budget_.in_use()}, {"limit", fd_budget_.limit()},
                                         {"headroom", fd_budget_.headroom()}});
    } else {
        log::info("fd-budget-resume", {{"open", fd_budget_.in_use()}, {"limit", fd_budget_.limit()}});
    }
    for (auto& [key, l] : listeners_) {
        l->set_paused(k_pause_fds, pause);
    }
}

void Server::on_ready(Listener& listener) {
    auto it = listener_services_.find(&listener);
    if (it == listener_services_.end()) {
        listener.pause(k_pause_stopping);  // nobody's: never spin on it
        return;
    }
    const auto* exec = it->second->definition->exec();
    if (exec != nullptr && exec->wait) {
        hand_off(listener, it->second);
    } else if (listener.is_datagram()) {
        serve_datagrams(listener, *it->second);
    }
}

void Server::hand_off(Listener& listener, const std::shared_ptr<ServiceRuntime>& service) {
    if (service->admission.children_full(global_)) {
        listener.pause(k_pause_limit);  // resumed when a child exits
        return;
    }
    if (listener.is_datagram() && !admit_wait_datagram(listener, *service)) return;
    Waiter*& slot = waiters_[&listener];
    if (slot == nullptr) {
        auto* w = new Waiter;
        w->listener = &listener;
        // The WaitService dies before its Waiter, so these never see a freed
        // one; they reach the listener only through w->listener, which
        // retire_waiter() clears before the listener can close.
        services::WaitService::Events events{
            .hold = [w] { if (w->listener != nullptr) w->listener->pause(k_pause_wait_child); },
            .release = [w] { if (w->listener != nullptr) w->listener->resume(k_pause_wait_child); },
            .spawned =
                [this, w](pid_t pid) {
                    fd_budget_.acquire(k_wait_child_fds);
                    child_spawned(*w->runtime, pid);
                },
            .spawn_failed = [this, w](std::string_view error) { spawn_failed(*w->runtime, "-", error); },
            .exited = [this, w](pid_t pid, const process::ExitStatus& st) {
                fd_budget_.release(k_wait_child_fds);
                update_fd_pause();
                ServiceRuntime& s = *w->runtime;
                child_exited(s, pid, st.kind == process::ExitStatus::Kind::exited ? st.code : -1,
                             st.kind == process::ExitStatus::Kind::killed ? st.signal : 0);
                log::info("child-exit", {{"service", s.name()}, {"pid", static_cast<long>(pid)},
                                         {"status", st.describe()},
                                         {"duration", static_cast<double>(st.duration.count()) / 1000.0}});
            },
        };
        w->service = new services::WaitService(loop_, spawner_, std::move(events));
        if (w->service->init() != 0) {
            w->service->close(std::chrono::milliseconds(0));
            delete w;
            waiters_.erase(&listener);
            return;
        }
        slot = w;
    }
    Waiter* w = slot;
    if (!w->service->running()) w->runtime = service;
    w->service->trigger(listener.fd(), service->definition);
}

void Server::retire_waiter(Listener* listener, std::chrono::milliseconds grace, bool listener_closes) {
    if (listener_closes) {
        // A child retired earlier may still hold this socket: never resume
        // the listener once it is gone.
        for (Waiter* w : retired_waiters_) {
            if (w->listener == listener) w->listener = nullptr;
        }
    }
    auto it = waiters_.find(listener);
    if (it == waiters_.end()) return;
    Waiter* w = it->second;
    waiters_.erase(it);
    if (listener_closes) {
        w->listener = nullptr;
    } else if (!w->service->running()) {
        // No child has the socket (a backoff at most, which ends here): it is ours again.
        listener->resume(k_pause_wait_child);
        w->listener = nullptr;
    }
    // Otherwise the child still has it, blocking and accepting on it: the
    // listener stays paused until the child has exited.
    retired_waiters_.push_back(w);
    w->service->close(grace, [this, w] {
        if (w->listener != nullptr) w->listener->resume(k_pause_wait_child);
        std::erase(retired_waiters_, w);
        delete w;
        finish_if_drained();
    });
}

void Server::terminate_retired_waiters() {
    // terminate() only signals; the close callbacks that edit the list come later.
    for (Waiter* w : retired_waiters_) w->service->terminate();
}

bool Server::admit_datagram(ServiceRuntime& service, const net::SockAddr& peer) {
    std::optional<RejectReason> refused;
    const config::Service& def = *service.definition;
    if (def.builtin() != nullptr && !def.admission.allow_reflection && services::looks_like_reflection(peer)) {
        refused = RejectReason::reflection;
    } else {
        refused = service.admission.admit_datagram(peer, uv_now(loop_));
    }
    if (refused) count_reject(service, peer, *refused);
    return !refused;
}

void Server::serve_datagrams(Listener& listener, ServiceRuntime& service) {
    const auto* builtin = service.definition->builtin();
    if (builtin == nullptr) return;
    services::DatagramStats stats;
    services::serve_datagrams(listener.fd(), *builtin,
                              [&](const net::SockAddr& peer) { return admit_datagram(service, peer); }, stats);
    service.counters.datagrams_in += stats.received;
    service.counters.datagrams_out += stats.answered;
    service.counters.bytes_in += stats.bytes_in;
    service.counters.bytes_out += stats.bytes_out;
}

bool Server::admit_wait_datagram(Listener& listener, ServiceRuntime& service) {
    // The child reads the datagram itself; we only look at who sent it, and
    // drop those the service's allow/deny or rate refuse, so a refused
    // source never starts a child.
    for (int i = 0; i < Listener::k_accept_budget; ++i) {
        net::SockAddr peer;
        peer.length = sizeof peer.storage;
        char byte = 0;
        ssize_t n = ::recvfrom(listener.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT, peer.get(), &peer.length);
        if (n < 0) return false;  // nothing waits after all (or an ICMP error, now consumed)
        if (admit_datagram(service, peer)) return true;
        (void)::recv(listener.fd(), &byte, 1, MSG_DONTWAIT);  // discards the whole datagram
    }
    return false;  // a flood of refused datagrams: the next wakeup goes on with it
}

void Server::on_accept_exhausted(Listener& listener, int err) {
    // The budget should have paused us before this; something else (a child
    // of ours sharing the limit does not, but another process's fds count
    // against ENFILE) took the fds. Stop accepting for a moment, never spin.
    log::warning("accept-paused", {{"address", listener.endpoint().to_string()}, {"error", std::strerror(err)}});
    fd_backoff_ = true;
    (void)fd_budget_.measure();
    update_fd_pause();
    fd_pause_timer_.start(k_fd_pause);
}

void Connection::on_session_done(services::Session&, const services::Outcome& outcome) {
    server->connection_done(*this, outcome);
}

void Connection::on_child_spawned(services::Session&, pid_t pid) { server->child_spawned(*service, pid); }

void Connection::on_spawn_failed(services::Session&, std::string_view error) {
    server->spawn_failed(*service, peer.to_string(), error);
}

void Connection::on_child_exited(services::Session&, pid_t pid, int exit_code, int signal) {
    server->child_exited(*service, pid, exit_code, signal);
}

void Server::child_spawned(ServiceRuntime& service, pid_t pid) {
    ++service.counters.spawned;
    service.admission.child_started(global_);
    update_pauses(service);
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
        if (global_.take_full_changed()) update_all_pauses();
        return;
    }
    // A wait-mode listener paused at max_children may hand off again.
    for (Listener* l : service.listeners) {
        if (!service.admission.children_full(global_)) l->resume(k_pause_limit);
    }
    update_pauses(service);
}

void Server::connection_done(Connection& connection, const services::Outcome& outcome) {
    Connection* c = &connection;
    const services::Session& session = *c->session;
    ServiceRuntime& service = *c->service;
    service.counters.bytes_in += session.bytes_in();
    service.counters.bytes_out += session.bytes_out();
    service.admission.release(global_, c->ticket, uv_now(loop_));
    fd_budget_.release(c->fds);
    double seconds = static_cast<double>(uv_now(loop_) - c->started) / 1000.0;
    if (outcome.pid != 0) {
        log::info("conn", {{"service", service.name()}, {"peer", c->peer.to_string()}, {"duration", seconds},
                           {"in", session.bytes_in()}, {"out", session.bytes_out()}, {"reason", outcome.reason},
                           {"pid", static_cast<long>(outcome.pid)}, {"exit", outcome.exit_code},
                           {"signal", outcome.signal}});
    } else {
        log::info("conn", {{"service", service.name()}, {"peer", c->peer.to_string()}, {"duration", seconds},
                           {"in", session.bytes_in()}, {"out", session.bytes_out()}, {"reason", outcome.reason}});
    }
    connections_.erase(c);
    if (!service.removed) {
        update_pauses(service);
    } else if (global_.take_full_changed()) {
        update_all_pauses();
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

void Server::shutdown(bool immediate) {
    if (closed_) return;
    if (!stopping_) {
        stopping_ = true;
        log::info("shutdown", {{"connections", connections_.size()},
                               {"grace", static_cast<double>(config_.shutdown_grace.count()) / 1000.0}});
        for (auto& [key, l] : listeners_) l->pause(k_pause_stopping);
        // A wait-mode child gets the grace a connection gets.
        while (!waiters_.empty()) {
            retire_waiter(waiters_.begin()->first, services::WaitService::k_no_deadline);
        }
        if ((!connections_.empty() || !retired_waiters_.empty()) && !immediate) {
            grace_timer_.start(config_.shutdown_grace);
        }
    }
    if (immediate) {
        log::info("shutdown-now", {{"connections", connections_.size()}});
        connections_.for_each([](Connection& c) { c.session->stop("shutdown"); });
        terminate_retired_waiters();
    }
    finish_if_drained();
}

void Server::drain() {
    if (stopping_) return;
    stopping_ = true;
    log::info("drain", {{"connections", connections_.size()}});
    for (auto& [key, l] : listeners_) l->pause(k_pause_stopping);
    // A wait-mode child would go on accepting: it is stopped now.
    while (!waiters_.empty()) retire_waiter(waiters_.begin()->first, std::chrono::milliseconds(0));
    finish_if_drained();
}

bool Server::set_enabled(const std::string& name, bool enabled) {
    auto it = services_.find(name);
    if (it == services_.end()) return false;
    ServiceRuntime& service = *it->second;
    service.disabled = !enabled;
    bool off = service.disabled;
    for (Listener* l : service.listeners) {
        l->set_paused(k_pause_disabled, off);
    }
    log::info(enabled ? "enabled" : "disabled", {{"service", name}});
    return true;
}

void Server::finish_if_drained() {
    if (!stopping_ || closed_ || !connections_.empty() || !waiters_.empty() || !retired_waiters_.empty()) return;
    close_everything();
}

void Server::close_everything() {
    closed_ = true;
    for (auto* o : observers_) o->on_closing();
    for (auto& [key, l] : listeners_) l->close(true);
    listeners_.clear();
    listener_services_.clear();
    services_.clear();
    sigterm_.close();
    sigint_.close();
    sighup_.close();
    sigusr1_.close();
    sweep_timer_.close();
    grace_timer_.close();
    fd_pause_timer_.close();
    graveyard_timer_.close([this] {
        for (Connection* c : graveyard_) delete c;
        graveyard_.clear();
    });
    log::info("stopped");
}

}  // namespace sb::server
