// Readiness without accept: UDP listeners, whose datagrams a kind answers
// inline (built-ins), and hand-off listeners, whose socket goes to a
// wait-mode child (wait_handoff.cpp). Datagrams are admitted one by one
// (one of our own addresses, reflection, allow/deny, rates); nothing here
// keeps state between them but the rate buckets.
#include <sys/socket.h>

#include "net/socket.hpp"
#include "server/server.hpp"

namespace sb::server {

void Server::on_ready(Listener& listener) {
    auto it = listener_services_.find(&listener);
    if (it == listener_services_.end()) {
        refresh_pauses(listener);  // nobody's: never spin on it
        return;
    }
    const services::ServiceKind& kind = *it->second->kind;
    if (kind.intake() == services::Intake::hand_off) {
        hand_off(listener, it->second);
    } else if (listener.is_datagram()) {
        serve_datagrams(listener, *it->second);
    }
}

bool Server::admit_datagram(ServiceRuntime& service, const net::SockAddr& peer) {
    std::optional<RejectReason> refused;
    std::uint64_t now = uv_now(loop_);
    if (own_udp_.contains(peer, now)) {
        // Answering would make two of our services (or one with itself)
        // answer each other forever.
        refused = RejectReason::own_address;
    } else if (service.kind->refuses_datagram_from(peer)) {
        refused = RejectReason::reflection;
    } else {
        refused = service.admission.admit_datagram(peer, now);
    }
    if (refused) count_reject(service, peer, *refused);
    return !refused;
}

void Server::note_udp_listeners() {
    std::vector<net::SockAddr> bound;
    for (const auto& [key, listener] : listeners_) {
        if (listener->is_datagram()) bound.push_back(net::local_address(listener->fd()));
    }
    own_udp_.set_listeners(bound);
}

void Server::serve_datagrams(Listener& listener, ServiceRuntime& service) {
    if (!service.kind->serves_datagrams()) return;
    services::DatagramStats stats;
    service.kind->serve_datagrams(
        listener.fd(), [&](const net::SockAddr& peer) { return admit_datagram(service, peer); }, stats);
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

}  // namespace sb::server
