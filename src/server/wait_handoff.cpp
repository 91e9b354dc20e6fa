// The wait-mode hand-off: a listener whose service's kind takes the
// listening socket itself (Intake::hand_off) gets one WaitService, which
// lends the socket to one child at a time. While a child (or a backoff) has
// the socket, the listener is paused (k_pause_wait_child, derived from
// Waiter::holding). A service that stops handing the socket out retires its
// waiter, which closes once its child has exited.
//
// The server owns every Waiter in waiters_; a waiter is freed in the
// callback of its WaitService's close, after which that service has freed
// itself. A waiter reaches its listener only through `listener`, which is
// cleared before the listener may close.
#include <algorithm>

#include "log/log.hpp"
#include "server/server.hpp"
#include "services/wait_service.hpp"

namespace sb::server {

Server::Waiter* Server::serving_waiter(const Listener* listener) const {
    for (const auto& w : waiters_) {
        if (!w->retired && w->listener == listener) return w.get();
    }
    return nullptr;
}

bool Server::waiter_holds(const Listener* listener) const {
    return std::any_of(waiters_.begin(), waiters_.end(),
                       [&](const auto& w) { return w->holding && w->listener == listener; });
}

void Server::free_waiter(Waiter* waiter) {
    std::erase_if(waiters_, [&](const auto& w) { return w.get() == waiter; });
}

void Server::hand_off(Listener& listener, const std::shared_ptr<ServiceRuntime>& service) {
    // A child before may have shut the socket down: its hang-up would wake
    // a child after child that gets nothing to accept.
    if (!listener.is_datagram() && !listener.listening()) {
        revive(listener);
        return;
    }
    if (service->admission.children_full(global_)) {
        refresh_pauses(listener);  // at max_children: paused until a child exits
        return;
    }
    if (listener.is_datagram() && !admit_wait_datagram(listener, *service)) return;
    Waiter* w = serving_waiter(&listener);
    if (w == nullptr) {
        auto owned = std::make_unique<Waiter>();
        w = owned.get();
        w->listener = &listener;
        // The WaitService dies before its Waiter, so these never see a freed one.
        services::WaitService::Events events{
            .hold =
                [this, w] {
                    w->holding = true;
                    if (w->listener != nullptr) refresh_pauses(*w->listener);
                },
            .release =
                [this, w] {
                    w->holding = false;
                    if (w->listener != nullptr) refresh_pauses(*w->listener);
                },
            .spawned =
                [this, w](pid_t pid) {
                    w->child_fds = FdLease(fd_budget_, w->child_cost);
                    child_spawned(*w->runtime, pid);
                },
            .spawn_failed = [this, w](std::string_view error) { spawn_failed(*w->runtime, "-", error); },
            .exited =
                [this, w](pid_t pid, const process::ExitStatus& st) {
                    w->child_fds.reset();
                    update_fd_pause();
                    ServiceRuntime& s = *w->runtime;
                    child_exited(s, pid, st.kind == process::ExitStatus::Kind::exited ? st.code : -1,
                                 st.kind == process::ExitStatus::Kind::killed ? st.signal : 0);
                    log::info("child-exit",
                              {{"service", s.name()}, {"pid", static_cast<long>(pid)}, {"status", st.describe()},
                               {"duration", static_cast<double>(st.duration.count()) / 1000.0}});
                },
        };
        w->service = new services::WaitService(loop_, spawner_, std::move(events));
        if (w->service->init() != 0) {
            w->service->close(std::chrono::milliseconds(0));
            return;  // `owned` frees the waiter; its service had nothing to call back about
        }
        waiters_.push_back(std::move(owned));
    }
    if (!w->service->running()) {
        w->runtime = service;
        w->child_cost = service->kind->child_fds();
    }
    service->kind->wake(*w->service, listener.fd());
}

void Server::retire_waiter(Listener* listener, std::chrono::milliseconds grace, bool listener_closes) {
    Waiter* w = serving_waiter(listener);
    if (listener_closes) {
        // A child retired earlier may still hold this socket: never touch
        // the listener once it is gone.
        for (auto& each : waiters_) {
            if (each->listener == listener) each->listener = nullptr;
        }
    }
    if (w == nullptr) return;
    w->retired = true;
    // A child that has the socket, blocking and accepting on it, keeps the
    // listener paused until it has exited; a backoff at most ends here.
    w->holding = w->service->running();
    if (listener_closes) w->listener = nullptr;
    if (w->listener != nullptr) refresh_pauses(*w->listener);
    w->service->close(grace, [this, w] {
        Listener* l = w->listener;
        free_waiter(w);
        if (l != nullptr) refresh_pauses(*l);
        finish_if_drained();
    });
}

void Server::retire_all_waiters(std::chrono::milliseconds grace) {
    std::vector<Listener*> serving;
    for (const auto& w : waiters_) {
        if (!w->retired) serving.push_back(w->listener);
    }
    for (Listener* l : serving) retire_waiter(l, grace);
}

void Server::terminate_retired_waiters() {
    // terminate() only signals; the close callbacks that edit the list come later.
    for (const auto& w : waiters_) {
        if (w->retired) w->service->terminate();
    }
}

}  // namespace sb::server
