// Shutdown and drain: stop accepting, let connections and wait-mode
// children finish (within shutdown_grace, or however long a drain takes),
// then close every handle the server owns. Also ctl enable/disable.
#include "log/log.hpp"
#include "server/server.hpp"
#include "services/wait_service.hpp"

namespace sb::server {

void Server::shutdown(bool immediate) {
    if (closed_) return;
    if (!stopping_) {
        stopping_ = true;
        log::info("shutdown", {{"connections", connections_.size()},
                               {"grace", static_cast<double>(config_.shutdown_grace.count()) / 1000.0}});
        for (auto* o : observers_) o->on_stopping();
        refresh_all_pauses();
        abandon_proxy_waits();
        // A wait-mode child gets the grace a connection gets.
        retire_all_waiters(services::WaitService::k_no_deadline);
        stop_listening();
        if ((!connections_.empty() || !waiters_.empty()) && !immediate) {
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
    for (auto* o : observers_) o->on_stopping();
    refresh_all_pauses();
    abandon_proxy_waits();
    // A wait-mode child would go on accepting: it is stopped now.
    retire_all_waiters(std::chrono::milliseconds(0));
    stop_listening();
    finish_if_drained();
}

void Server::stop_listening() {
    // A socket nobody will accept on again is closed now, so that the
    // kernel refuses new clients (and health checks see the server go)
    // instead of queueing them until the exit. A socket systemd passed in is
    // left open: ours is a duplicate, and shutdown() would stop the copy
    // systemd keeps for the next start from listening too.
    auto keep_passed = [this](const Listener& l) {
        if (!passed_.holds(l.listen())) return false;
        log::info("listener-not-accepting",
                  {{"address", l.endpoint().to_string()}, {"reason", "passed by the service manager, left open for it"}});
        return true;
    };
    std::map<std::string, Listener*> kept;
    std::size_t closed = 0;
    for (auto& [key, l] : listeners_) {
        if (keep_passed(*l)) {
            kept[key] = l;
            continue;
        }
        // A wait-mode child may still hold this socket (its own copy): its
        // waiter must not touch the listener again.
        retire_waiter(l, services::WaitService::k_no_deadline, true);
        listener_services_.erase(l);
        for (auto& [name, service] : services_) std::erase(service->listeners, l);
        l->close(true);
        ++closed;
    }
    listeners_ = std::move(kept);
    if (metrics_listener_ != nullptr && !keep_passed(*metrics_listener_)) {
        metrics_listener_->close(true);
        metrics_listener_ = nullptr;
        ++closed;
    }
    log::info("listeners-closed", {{"closed", closed}, {"left_open", listeners_.size()}});
}

bool Server::set_enabled(const std::string& name, bool enabled) {
    auto it = services_.find(name);
    if (it == services_.end()) return false;
    ServiceRuntime& service = *it->second;
    service.disabled = !enabled;
    for (Listener* l : service.listeners) refresh_pauses(*l);
    log::info(enabled ? "enabled" : "disabled", {{"service", name}});
    return true;
}

void Server::abandon_proxy_waits() {
    // Not yet connections: closed at once, the clients never admitted.
    proxy_waits_.for_each([this](ProxyWait& w) {
        proxy_waits_.erase(&w);
        w.abandon();
    });
}

void Server::finish_if_drained() {
    if (!stopping_ || closed_ || !connections_.empty() || !waiters_.empty()) return;
    close_everything();
}

void Server::close_everything() {
    closed_ = true;
    abandon_proxy_waits();
    for (auto* o : observers_) o->on_closing();
    for (auto& [key, l] : listeners_) l->close(true);
    listeners_.clear();
    if (metrics_listener_ != nullptr) metrics_listener_->close(true);
    metrics_listener_ = nullptr;
    listener_services_.clear();
    services_.clear();
    sigterm_.close();
    sigint_.close();
    sighup_.close();
    sigusr1_.close();
    sigusr2_.close();
    sweep_timer_.close();
    grace_timer_.close();
    fd_pause_timer_.close();
    revive_timer_.close();
    graveyard_timer_.close([this] {
        for (Connection* c : graveyard_) delete c;
        graveyard_.clear();
    });
    log::info("stopped");
}

}  // namespace sb::server
