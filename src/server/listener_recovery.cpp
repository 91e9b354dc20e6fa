// Listener recovery: a listening socket that stopped listening (a wait-mode
// child called shutdown() on the socket it was lent) or whose poll reported
// an error is logged and brought back: watched again when it still listens,
// listen()ed again (TCP keeps its address), or replaced by a freshly bound
// socket. One that cannot be brought back is paused (Listener::broken) and
// tried again every k_revive_retry, never left looking alive while nobody
// watches it, and never spinning on its hang-up.
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "log/log.hpp"
#include "server/server.hpp"

namespace sb::server {

void Server::on_listener_broken(Listener& listener, int status) {
    log::warning("listener-error", {{"address", listener.endpoint().to_string()}, {"error", uv_strerror(status)}});
    if (status == UV_EINVAL) {
        revive(listener);  // accept4: no longer listening
        return;
    }
    // A poll error may well come back at once: watch again only after a
    // pause, so that an error that persists costs one line a second, not a spin.
    listener.set_broken(true);
    refresh_pauses(listener);
    revive_timer_.start(k_revive_retry);
}

void Server::on_accept_failed(Listener& listener, int err) {
    ++accept_failures_;
    log::warning("accept-failed", {{"address", listener.endpoint().to_string()}, {"error", std::strerror(err)},
                                   {"retry", static_cast<double>(k_revive_retry.count()) / 1000.0}});
    // The socket may be fine and the error passing: look again after a pause.
    listener.set_broken(true);
    refresh_pauses(listener);
    revive_timer_.start(k_revive_retry);
}

void Server::revive(Listener& listener) {
    if (listener.is_datagram() || listener.listening()) {
        listener.set_broken(false);
        refresh_pauses(listener);
        listener.rearm();  // a poll error stopped the watch
        return;
    }
    // A child that still has the socket is left alone: the listener is
    // paused meanwhile, and looked at again when it has exited.
    if (waiter_holds(&listener)) return;
    log::warning("listener-not-listening", {{"address", listener.endpoint().to_string()}});
    // A TCP socket shut down while listening keeps its address: listen again.
    if (listener.endpoint().transport == net::Transport::tcp &&
        ::listen(listener.fd(), listener.listen().options.backlog) == 0 && listener.listening()) {
        log::info("listener-revived", {{"address", listener.endpoint().to_string()}, {"how", "listen"}});
        listener.set_broken(false);
        refresh_pauses(listener);
        listener.rearm();
        return;
    }
    replace_listener(listener);
}

void Server::replace_listener(Listener& dead) {
    std::string key = dead.endpoint().to_string();
    net::BoundSocket bound;
    std::string error;
    Listener* fresh = nullptr;
    if (net::bind_listener(dead.listen(), bound, error) == 0) fresh = Listener::adopt(loop_, dead.listen(), bound, error);
    if (fresh == nullptr) {
        log::error("listener-lost", {{"address", key}, {"error", error},
                                     {"retry", static_cast<double>(k_revive_retry.count()) / 1000.0}});
        dead.set_broken(true);
        refresh_pauses(dead);
        revive_timer_.start(k_revive_retry);
        return;
    }
    fresh->set_handler(this);
    if (&dead == metrics_listener_) {
        metrics_listener_ = fresh;
    } else {
        if (auto it = listeners_.find(key); it != listeners_.end() && it->second == &dead) it->second = fresh;
        if (auto it = listener_services_.find(&dead); it != listener_services_.end()) {
            std::shared_ptr<ServiceRuntime> runtime = it->second;
            listener_services_.erase(it);
            listener_services_[fresh] = runtime;
            std::replace(runtime->listeners.begin(), runtime->listeners.end(), &dead, fresh);
            services::Intake intake = runtime->kind->intake();
            fresh->set_handoff(intake == services::Intake::hand_off);
            fresh->set_accept_blocking(intake == services::Intake::accept_blocking);
        }
    }
    // Its waiter (no child runs) closes; the next client starts a new one.
    retire_waiter(&dead, std::chrono::milliseconds(0), true);
    dead.close(true);  // a UNIX socket file bound again since is not ours to remove
    (void)fd_budget_.measure();
    refresh_pauses(*fresh);
    log::info("listener-revived", {{"address", key}, {"how", "bound again"}});
}

void Server::revive_dead_listeners() {
    std::vector<Listener*> dead;
    for (auto& [key, l] : listeners_) {
        if (!l->is_datagram() && (l->broken() || !l->listening()) && !waiter_holds(l)) dead.push_back(l);
    }
    if (metrics_listener_ != nullptr && metrics_listener_->broken()) dead.push_back(metrics_listener_);
    for (Listener* l : dead) revive(*l);
}

}  // namespace sb::server
