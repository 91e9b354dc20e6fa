// The accept path: a listener hands the server an accepted stream
// connection; admission decides, and the service's kind starts a session
// that the connection record (connection.hpp) owns from then on. A
// connection turned away is closed here, with banner_fail if it has one.
#include <sys/socket.h>

#include "net/socket.hpp"
#include "server/server.hpp"

namespace sb::server {
namespace {

// What an admitted client is sent first: xinetd's banner_success, then banner.
std::string greeting(const config::Admission& a) {
    if (a.banner_success.empty()) return a.banner.text;
    return a.banner_success.text + a.banner.text;
}

}  // namespace

void Server::on_accepted(Listener& listener, Fd fd, const net::SockAddr& peer) {
    if (&listener == metrics_listener_) return accept_metrics(std::move(fd));
    FdLease lease = FdLease::accepted(fd_budget_, fd.get());
    auto it = listener_services_.find(&listener);
    if (it == listener_services_.end()) return;  // `fd` closes, then its lease ends
    ServiceRuntime& service = *it->second;
    const services::ServiceKind& kind = *service.kind;
    const std::uint32_t fds = kind.connection_fds();
    if (fds > 1 && !fd_budget_.can_spawn(fds - 1 + kind.transient_fds())) {
        reject(service, std::move(fd), peer, RejectReason::fd_budget);
        lease.reset();
        update_fd_pause();
        return;
    }
    Decision decision = service.admission.admit(global_, peer, fd.get(), uv_now(loop_));
    if (!decision.admitted()) {
        reject(service, std::move(fd), peer, *decision.rejected);
        return;
    }
    lease.grow(fds - 1);
    net::apply_accepted_options(fd.get(), listener.listen().options, listener.endpoint().transport);

    auto* c = new Connection;
    c->server = this;
    c->id = next_connection_id_++;
    c->service = it->second;
    c->definition = service.definition;
    c->peer = peer;
    c->ticket = decision.ticket;
    c->fds = std::move(lease);
    c->started = uv_now(loop_);
    c->accepted_ns = uv_hrtime();
    c->session = kind.start_session(services::Arrival{.loop = loop_,
                                                      .observer = c,
                                                      .fd = std::move(fd),
                                                      .peer = peer,
                                                      .transport = listener.endpoint().transport,
                                                      .spawner = &spawner_,
                                                      .pipes = &pipes_,
                                                      .greeting = greeting(service.definition->admission)});
    connections_.push_back(c);
    ++service.counters.accepted;
    refresh_pauses(service);
    update_fd_pause();
    c->session->start();
}

void Server::count_reject(ServiceRuntime& service, const net::SockAddr& peer, RejectReason reason) {
    ++service.counters.rejected[static_cast<std::size_t>(reason)];
    service.admission.log_reject(peer, reason, uv_now(loop_));
}

void Server::reject(ServiceRuntime& service, Fd fd, const net::SockAddr& peer, RejectReason reason) {
    count_reject(service, peer, reason);
    const auto& fail = service.definition->admission.banner_fail.text;
    // One try, never blocking: a rejected client gets what fits its socket buffer.
    if (!fail.empty()) (void)!::send(fd.get(), fail.data(), fail.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}  // `fd` closes here

}  // namespace sb::server
