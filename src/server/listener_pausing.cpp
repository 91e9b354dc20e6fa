// Listener pausing: why each listener is not accepting, derived from the
// server's state in one function (pause_reasons). Whatever changes that
// state (a connection, a child, a limit, the fd budget, ctl disable, a
// wait-mode child, shutdown) asks for a refresh; nothing sets a reason by
// hand. Also the fd budget's pause and the EMFILE back-off.
#include <cstring>

#include "log/log.hpp"
#include "server/server.hpp"

namespace sb::server {
namespace {

constexpr std::chrono::milliseconds k_fd_pause{250};

}  // namespace

std::uint8_t Server::pause_reasons(const Listener& listener) const {
    if (stopping_) return k_pause_stopping;
    std::uint8_t broken = listener.broken() ? k_pause_broken : 0;
    if (&listener == metrics_listener_) return broken | (fd_paused_ ? k_pause_fds : 0);
    auto it = listener_services_.find(const_cast<Listener*>(&listener));
    if (it == listener_services_.end()) return k_pause_stopping;  // nobody's: about to close
    const ServiceRuntime& service = *it->second;
    const services::ServiceKind& kind = *service.kind;
    std::uint8_t reasons = broken;
    if (service.disabled) reasons |= k_pause_disabled;
    if (fd_paused_) reasons |= k_pause_fds;
    if (waiter_holds(&listener)) reasons |= k_pause_wait_child;
    // Datagrams answered inline are not connections: no connection limit
    // holds them back. A hand-off listener (UDP too) pauses at max_children.
    if (!(listener.is_datagram() && kind.serves_datagrams())) {
        bool at_limit = service.admission.should_pause(global_) ||
                        (kind.intake() == services::Intake::hand_off && service.admission.children_full(global_));
        if (at_limit) reasons |= k_pause_limit;
    }
    return reasons;
}

void Server::refresh_pauses(Listener& listener) { listener.set_pause_reasons(pause_reasons(listener)); }

void Server::refresh_pauses(ServiceRuntime& service) {
    // A server-wide limit that filled or freed concerns every service.
    if (global_.take_full_changed()) {
        refresh_all_pauses();
        return;
    }
    for (Listener* l : service.listeners) refresh_pauses(*l);
}

void Server::refresh_all_pauses() {
    (void)global_.take_full_changed();
    for (auto& [key, l] : listeners_) refresh_pauses(*l);
    if (metrics_listener_ != nullptr) refresh_pauses(*metrics_listener_);
}

void Server::update_fd_pause() {
    bool pause = fd_backoff_ || fd_budget_.should_pause();
    if (pause == fd_paused_) return;
    fd_paused_ = pause;
    if (pause) {
        ++fd_budget_pauses_;
        log::warning("fd-budget-pause", {{"open", fd_budget_.in_use()}, {"limit", fd_budget_.limit()},
                                         {"headroom", fd_budget_.headroom()}});
    } else {
        log::info("fd-budget-resume", {{"open", fd_budget_.in_use()}, {"limit", fd_budget_.limit()}});
    }
    refresh_all_pauses();
}

void Server::on_accept_exhausted(Listener& listener, int err) {
    // The budget should have paused us before this; something else (a child
    // of ours sharing the limit does not, but another process's fds count
    // against ENFILE) took the fds. Stop accepting for a moment, never spin.
    ++accept_failures_;
    log::warning("accept-paused", {{"address", listener.endpoint().to_string()}, {"error", std::strerror(err)}});
    fd_backoff_ = true;
    (void)fd_budget_.measure();
    update_fd_pause();
    fd_pause_timer_.start(k_fd_pause);
}

}  // namespace sb::server
