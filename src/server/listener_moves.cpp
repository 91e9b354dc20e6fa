// Moving a service between overlapping addresses in one reload: from
// tcp://127.0.0.1:P to tcp://*:P, or back, or the same over UDP. The new
// socket cannot be bound while the old one holds the port (EADDRINUSE), so
// when a bind fails that way and a listener this reload closes has the same
// transport and port, that listener gives its address up (Listener::
// release_address, the same fd number with an unbound socket in it) and the
// bind is tried again. Until the new socket listens, clients of that port
// are refused; the gap is logged (listener-moved gap_us=) and documented.
// Should the reload fail later, the released listeners bind their
// addresses again, as if nothing had happened.
#include <chrono>
#include <cerrno>

#include "log/log.hpp"
#include "server/reload_plan.hpp"
#include "server/server.hpp"

namespace sb::server {

int Server::bind_moving(const ReloadPlan& plan, const config::Listen& listen, net::BoundSocket& bound,
                        std::vector<Listener*>& released, std::string& error) {
    int rc = net::bind_listener(listen, bound, error);
    if (rc != -EADDRINUSE || listen.endpoint.transport == net::Transport::unix_stream) return rc;

    auto started = std::chrono::steady_clock::now();
    std::vector<Listener*> mine;  // released for this listener
    for (const std::string& key : plan.close) {
        auto it = listeners_.find(key);
        if (it == listeners_.end()) continue;
        Listener* old = it->second;
        const net::Endpoint& e = old->endpoint();
        if (e.transport != listen.endpoint.transport || e.port != listen.endpoint.port) continue;
        // Not a socket systemd passed (it keeps the address) nor one a
        // wait-mode child holds a copy of: freeing those frees nothing, and
        // binding them back would fail.
        if (old->address_released() || passed_.holds(old->listen()) || waiter_holds(old)) continue;
        if (old->release_address() == 0) mine.push_back(old);
    }
    if (mine.empty()) return rc;

    std::string retry_error;
    rc = net::bind_listener(listen, bound, retry_error);
    auto gap = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - started).count();
    if (rc == 0) {
        error.clear();
        for (Listener* old : mine) {
            log::info("listener-moved", {{"from", old->endpoint().to_string()},
                                         {"to", listen.endpoint.to_string()},
                                         {"gap_us", gap}});
            released.push_back(old);
        }
        return 0;
    }
    // Not the old listeners' fault after all: put them back at once.
    undo_moves({}, mine);
    return rc;
}

void Server::undo_moves(const std::vector<Listener*>& fresh, const std::vector<Listener*>& released) {
    if (released.empty()) return;
    // A fresh socket holds the port until its close callback: free it now.
    for (Listener* l : fresh) {
        if (l->endpoint().transport != net::Transport::unix_stream) (void)l->release_address();
    }
    for (Listener* old : released) {
        std::string error;
        if (old->restore_address(error) != 0) {
            log::error("listener-lost", {{"address", old->endpoint().to_string()}, {"error", error}});
        }
    }
}

}  // namespace sb::server
