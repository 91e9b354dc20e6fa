// Server::apply: making a configuration the running one. Start and reload
// are the same operation: bind what is new, keep what is unchanged (the same
// fd, so no connection is refused), then retire what is gone. Any bind
// failure undoes the new binds and leaves the running state untouched (an
// old listener that gave its address to a new overlapping one binds it
// again: listener_moves.cpp).
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <optional>

#include "log/log.hpp"
#include "net/socket.hpp"
#include "server/reload_plan.hpp"
#include "server/server.hpp"

namespace sb::server {
namespace {

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) {
        if (!out.empty()) out += ',';
        out += n;
    }
    return out.empty() ? "-" : out;
}

// Options a bound socket can take in place. A UNIX socket's mode and owner
// go to the file this listener created and to nothing else: a path that
// now names another file (a symlink put in its place) is left alone.
void update_in_place(Listener& listener, const config::Listen& after) {
    const config::Listen& before = listener.listen();
    const auto& o = after.options;
    if (after.endpoint.transport != net::Transport::udp && before.options.backlog != o.backlog) {
        (void)::listen(listener.fd(), o.backlog);
    }
    if (after.endpoint.transport != net::Transport::unix_stream || after.endpoint.abstract) return;
    if (before.options.mode == o.mode && before.options.owner == o.owner && before.options.group == o.group) return;
    std::string why;
    if (listener.file().path.empty()) {
        why = "is not a file the server created (passed in by systemd): left alone";
    } else if (net::set_socket_file_access(listener.file(), o, why) == 0) {
        return;
    }
    log::warning("socket-mode-not-changed", {{"address", after.endpoint.to_string()}, {"error", why}});
}

// The name of the service that listens on `l`, or "" when none does.
std::string service_of(const config::Config& c, const config::Listen& l) {
    for (const auto& [name, service] : c.services) {
        for (const auto& each : service.listen) {
            if (each.endpoint == l.endpoint) return name;
        }
    }
    return "";
}

std::string owner_of(const config::Config& c, const config::Listen& l) {
    std::string name = service_of(c, l);
    return name.empty() ? "listener" : "service " + name;
}

// What PassedSockets matches LISTEN_FDNAMES against.
std::map<std::string, std::vector<std::string>> passed_keys_by_service(const config::Config& c) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& [name, service] : c.services) {
        auto& keys = out[name];
        for (const auto& l : service.listen) keys.push_back(passed_key(l));
    }
    return out;
}

}  // namespace

ApplyReport Server::apply(const config::Config& next, double load_milliseconds) {
    auto t0 = std::chrono::steady_clock::now();
    ApplyReport report;

    // A listener that no longer listens is never kept as it is.
    revive_dead_listeners();
    ReloadPlan plan = plan_reload(config_, next);
    report.errors = plan.conflicts;

    // 1. Open the log destination, then bind every new listener; on any
    // failure undo them all. The log is opened here, not switched to: a log
    // file that cannot be opened fails the apply before anything changed.
    std::optional<log::Prepared> next_log;
    if (report.ok()) {
        std::string error;
        next_log = log::prepare(next.log, error);
        if (!next_log) report.errors.push_back("log: " + error);
    }
    std::vector<Listener*> fresh;
    std::vector<Listener*> released;  // old listeners that gave their address to a new one (listener_moves.cpp)
    if (report.ok()) {
        passed_.expect_services(passed_keys_by_service(next));
        for (const auto& l : plan.bind) {
            net::BoundSocket bound;
            std::string error;
            Listener* listener = nullptr;
            // A socket systemd passed for this address is adopted, not bound over.
            if (passed_.take(l, service_of(next, l), bound) || bind_moving(plan, l, bound, released, error) == 0) {
                listener = Listener::adopt(loop_, l, bound, error);
            }
            if (listener == nullptr) {
                report.errors.push_back(owner_of(next, l) + ": " + error);
                continue;
            }
            fresh.push_back(listener);
        }
    }
    MetricsSwap metrics;
    if (report.ok()) {
        std::string error;
        metrics = prepare_metrics_listener(next, error);
        if (!error.empty()) report.errors.push_back("the metrics listener: " + error);
    }
    if (!report.ok()) {
        undo_moves(fresh, released);
        for (Listener* l : fresh) l->close(true);
        if (metrics.fresh) metrics.next->close(true);
        log::error(generation_ == 0 ? "start-failed" : "reload-failed", {{"errors", report.errors.size()}});
        for (const auto& e : report.errors) log::error("apply-error", {{"detail", e}});
        return report;
    }

    // 2. From here on nothing can fail. The new listener table.
    std::map<std::string, Listener*> next_listeners;
    for (Listener* l : fresh) next_listeners[l->endpoint().to_string()] = l;
    // The plan was made from the running listeners, so every key it keeps,
    // updates or closes is one of them; still, nothing here may throw.
    auto running = [this](const std::string& key) -> Listener* {
        auto it = listeners_.find(key);
        return it != listeners_.end() ? it->second : nullptr;
    };
    for (const auto& key : plan.keep) {
        if (Listener* listener = running(key)) next_listeners[key] = listener;
    }
    for (const auto& l : plan.update) {
        Listener* listener = running(l.endpoint.to_string());
        if (listener == nullptr) continue;
        update_in_place(*listener, l);
        listener->update(l);
        next_listeners[l.endpoint.to_string()] = listener;
    }

    // 3. The service table: same name keeps its runtime (and counters).
    std::map<std::string, std::shared_ptr<ServiceRuntime>> next_services;
    for (const auto& [name, def] : next.services) {
        std::shared_ptr<ServiceRuntime> runtime;
        if (auto it = services_.find(name); it != services_.end()) {
            runtime = it->second;
            // A ctl enable/disable stands until the configuration itself flips the switch.
            if (runtime->definition->enabled != def.enabled) runtime->disabled = !def.enabled;
        } else {
            runtime = std::make_shared<ServiceRuntime>();
            runtime->disabled = !def.enabled;
        }
        runtime->definition = std::make_shared<const config::Service>(def);
        runtime->kind = services::make_kind(runtime->definition);
        runtime->admission.configure(runtime->definition, uv_now(loop_), runtime->kind->spawns_children());
        runtime->listeners.clear();
        for (const auto& l : def.listen) {
            auto it = next_listeners.find(l.endpoint.to_string());
            if (it != next_listeners.end()) runtime->listeners.push_back(it->second);
        }
        next_services[name] = std::move(runtime);
    }

    // 4. Retire what is gone: removed services drain; their listeners close.
    std::uint64_t now = uv_now(loop_);
    for (auto& [name, runtime] : services_) {
        if (next_services.count(name) != 0) continue;
        runtime->removed = true;
        runtime->drain_deadline = now + static_cast<std::uint64_t>(next.drain_grace.count());
        runtime->listeners.clear();
        // It will not reject again: say now what its reject log held back.
        runtime->admission.flush_log(std::numeric_limits<std::uint64_t>::max());
    }
    for (const auto& key : plan.close) {
        Listener* listener = running(key);
        if (listener == nullptr) continue;
        // A wait-mode child that has this socket drains like a connection.
        retire_waiter(listener, next.drain_grace, true);
        listener->close(true);
    }
    report.added = std::move(plan.added);
    report.changed = std::move(plan.changed);
    report.kept = std::move(plan.kept);
    report.removed = std::move(plan.removed);
    commit_metrics_listener(metrics);
    listeners_ = std::move(next_listeners);
    services_ = std::move(next_services);
    listener_services_.clear();
    for (auto& [name, runtime] : services_) {
        for (Listener* l : runtime->listeners) listener_services_[l] = runtime;
    }

    // 5. Serve.
    log::install(std::move(*next_log));
    config_ = next;
    ++generation_;
    if (generation_ == 1) passed_.close_unadopted();
    global_.configure(config_.limits);
    // Listeners came and went: count the fd table afresh.
    (void)fd_budget_.measure();
    for (auto& [name, runtime] : services_) {
        services::Intake intake = runtime->kind->intake();
        for (Listener* l : runtime->listeners) {
            l->set_handler(this);
            l->set_handoff(intake == services::Intake::hand_off);
            l->set_accept_blocking(intake == services::Intake::accept_blocking);
            if (intake != services::Intake::hand_off) retire_waiter(l, config_.drain_grace);
        }
    }
    note_udp_listeners();
    refresh_all_pauses();
    update_fd_pause();

    report.apply_milliseconds =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    report.load_milliseconds = load_milliseconds;
    report.milliseconds = report.load_milliseconds + report.apply_milliseconds;
    log::info(generation_ == 1 ? "started" : "reloaded",
              {{"generation", generation_}, {"services", services_.size()}, {"listeners", listeners_.size()},
               {"added", join(report.added)}, {"changed", join(report.changed)},
               {"removed", join(report.removed)}, {"kept", report.kept.size()}, {"ms", report.milliseconds},
               {"load_ms", report.load_milliseconds}, {"apply_ms", report.apply_milliseconds}});
    for (auto* o : observers_) o->on_applied(config_, report);
    return report;
}

}  // namespace sb::server
