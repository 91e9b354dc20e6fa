// The accept path: a listener hands the server an accepted stream
// connection; admission decides, and the service's kind starts a session
// that the connection record (connection.hpp) owns from then on. A
// connection turned away is closed here, with banner_fail if it has one.
// On a service with proxy_protocol, a trusted peer's connection first waits
// for its PROXY header (ProxyWait), and admission then judges the client the
// header names. A tcpmux session hands its client back here too
// (tcpmux_hand_over), to be admitted to the service it named.
#include <sys/socket.h>

#include <algorithm>

#include "log/log.hpp"
#include "net/socket.hpp"
#include "net/tcpmux_request.hpp"
#include "server/proxy_wait.hpp"
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
    if (service.definition->proxy_protocol) {
        wait_for_proxy_header(it->second, listener.listen(), std::move(fd), peer, std::move(lease));
        return;
    }
    admit_stream(it->second, listener.listen(), std::move(fd), peer, {}, std::move(lease), uv_hrtime());
}

void Server::admit_stream(const std::shared_ptr<ServiceRuntime>& runtime, const config::Listen& listen, Fd fd,
                          const net::SockAddr& peer, const net::SockAddr& local, FdLease lease,
                          std::uint64_t accepted_ns) {
    ServiceRuntime& service = *runtime;
    const services::ServiceKind& kind = *service.kind;
    Decision decision = service.admission.admit(global_, peer, fd.get(), uv_now(loop_));
    if (!decision.admitted()) {
        reject(service, std::move(fd), peer, *decision.rejected);
        return;
    }
    lease.grow(kind.connection_fds() - 1);
    net::apply_accepted_options(fd.get(), listen.options, listen.endpoint.transport);
    start_connection(runtime, std::move(fd), peer, local, listen.endpoint.transport, decision.ticket, std::move(lease),
                     greeting(service.definition->admission), accepted_ns);
}

void Server::start_connection(const std::shared_ptr<ServiceRuntime>& runtime, Fd fd, const net::SockAddr& peer,
                              const net::SockAddr& local, net::Transport transport, AdmissionTicket ticket,
                              FdLease lease, std::string hello, std::uint64_t accepted_ns) {
    ServiceRuntime& service = *runtime;
    auto* c = new Connection;
    c->server = this;
    c->id = next_connection_id_++;
    c->service = runtime;
    c->definition = service.definition;
    c->peer = net::PackedAddress(peer);
    if (local.length != 0) c->local = std::make_unique<net::SockAddr>(local);
    c->transport = transport;
    c->ticket = ticket;
    c->fds = std::move(lease);
    c->started = uv_now(loop_);
    c->accepted_ns = accepted_ns;
    c->session = service.kind->start_session(services::Arrival{.loop = loop_,
                                                               .observer = c,
                                                               .fd = std::move(fd),
                                                               .peer = peer,
                                                               .local = local,
                                                               .transport = transport,
                                                               .spawner = &spawner_,
                                                               .pipes = &pipes_,
                                                               .greeting = std::move(hello),
                                                               .tcpmux = c});
    connections_.push_back(c);
    ++service.counters.accepted;
    refresh_pauses(service);
    update_fd_pause();
    c->session->start();
}

std::string Server::tcpmux_hand_over(Connection& from, std::string_view name, Fd& fd) {
    std::shared_ptr<ServiceRuntime> target;
    for (const auto& [service_name, runtime] : services_) {
        const auto& mux = runtime->definition->tcpmux;
        if (mux && net::same_tcpmux_name(mux->name, name)) target = runtime;
    }
    // RFC 1078 leaves the text after "-" to the server.
    if (!target || target->disabled) return "Service not available";
    if (stopping_) return "Server shutting down";
    ServiceRuntime& service = *target;
    const services::ServiceKind& kind = *service.kind;
    const std::uint32_t fds = kind.connection_fds();
    const net::SockAddr peer = from.peer.get();
    if (fds > 1 && !fd_budget_.can_spawn(fds - 1 + kind.transient_fds())) {
        count_reject(service, peer, RejectReason::fd_budget);
        return "Server too busy";
    }
    Decision decision = service.admission.admit(global_, peer, fd.get(), uv_now(loop_));
    if (!decision.admitted()) {
        count_reject(service, peer, *decision.rejected);
        return "Not admitted (" + std::string(reject_reason_name(*decision.rejected)) + ")";
    }
    // The fd moves, and its lease with it: the tcpmux record ends holding none.
    FdLease lease = std::move(from.fds);
    lease.grow(fds - 1);
    const auto& definition = *service.definition;
    std::string hello = definition.tcpmux->plus ? "+\r\n" : "";
    hello += greeting(definition.admission);
    const net::SockAddr local = from.local ? *from.local : net::SockAddr{};
    start_connection(target, std::move(fd), peer, local, from.transport, decision.ticket, std::move(lease),
                     std::move(hello), uv_hrtime());
    return {};
}

std::vector<std::string> Server::tcpmux_names() const {
    std::vector<std::string> names;
    for (const auto& [service_name, runtime] : services_) {
        const auto& mux = runtime->definition->tcpmux;
        if (mux && !runtime->disabled) names.push_back(mux->name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

void Server::wait_for_proxy_header(const std::shared_ptr<ServiceRuntime>& runtime, const config::Listen& listen,
                                   Fd fd, const net::SockAddr& peer, FdLease lease) {
    ServiceRuntime& service = *runtime;
    const config::ProxyAccept& accept = *service.definition->proxy_protocol;
    auto ip = net::IpAddress::from(peer);
    bool trusted = ip && std::any_of(accept.trusted.begin(), accept.trusted.end(),
                                     [&](const net::Cidr& c) { return c.contains(*ip); });
    if (!trusted) {
        count_reject(service, peer, RejectReason::proxy_untrusted);
        return;  // `fd` closes, then its lease ends
    }
    auto* wait = new ProxyWait;
    wait->service = runtime;
    wait->listen = listen;
    wait->blocking = service.kind->intake() == services::Intake::accept_blocking;
    wait->fd = std::move(fd);
    wait->peer = peer;
    wait->lease = std::move(lease);
    wait->accepted_ns = uv_hrtime();
    wait->on_done = [this](ProxyWait& w, bool ok, const std::string& error) { proxy_header_done(w, ok, error); };
    proxy_waits_.push_back(wait);
    if (int rc = wait->start(loop_, accept.timeout); rc != 0) {
        proxy_waits_.erase(wait);
        count_reject(service, peer, RejectReason::proxy_header);
        wait->abandon();
    }
}

void Server::proxy_header_done(ProxyWait& wait, bool ok, const std::string& error) {
    proxy_waits_.erase(&wait);
    ServiceRuntime& service = *wait.service;
    if (!ok) {
        log::warning("proxy-header", {{"service", service.name()}, {"peer", wait.peer.to_string()}, {"error", error}});
        count_reject(service, wait.peer, RejectReason::proxy_header);
        return;  // the wait closes the fd
    }
    if (stopping_ || service.removed) return;
    const net::ProxyHeader& header = wait.parser.header();
    // LOCAL (a balancer's health check) and UNKNOWN keep the real addresses.
    net::SockAddr peer = header.local ? wait.peer : header.source;
    net::SockAddr local = header.local ? net::SockAddr{} : header.destination;
    admit_stream(wait.service, wait.listen, std::move(wait.fd), peer, local, std::move(wait.lease), wait.accepted_ns);
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
