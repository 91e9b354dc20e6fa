// RedirectSession: resolving, connecting, then forwarding (see
// redirect_session.hpp).
#include "services/redirect_session.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <optional>

#include "net/proxy_protocol.hpp"
#include "net/socket.hpp"

namespace sb::services {
namespace {

std::string_view reason_for(int err) {
    switch (-err) {
        case ECONNRESET:
        case EPIPE: return "reset";
        case ETIMEDOUT: return "timeout";
        default: return "error";
    }
}

// The configured source address with port 0, if it is of `family` (the
// configuration allows only an IPv4 or IPv6 literal there).
std::optional<net::SockAddr> source_address(const std::string& text, int family) {
    net::Endpoint source;
    source.host = text;
    auto address = source.literal_address();
    if (!address || address->family() != family) return std::nullopt;
    return address;
}

// What a finished non-blocking connect() left on `fd`: 0 or an errno.
int connect_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    return err;
}

// A connect() that said EINPROGRESS to an upstream on this host (loopback,
// and so most sidecar set-ups) has usually finished by the time it returns:
// asking at once saves watching the socket (a poll handle's set-up and
// tear-down, six epoll_ctl calls) for it. 0, an errno, or EINPROGRESS
// (still connecting: wait for it).
int connected_already(int fd) {
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    if (::poll(&p, 1, 0) != 1) return EINPROGRESS;
    return connect_error(fd);
}

std::string seconds_text(config::Duration d) {
    auto ms = d.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

}  // namespace

RedirectSession::RedirectSession(uv_loop_t* loop, SessionObserver& observer, Fd client, net::SockAddr peer,
                                 net::SockAddr local, std::shared_ptr<const config::Service> service,
                                 io::PipePool* pipes, std::string greeting)
    : Session(loop, observer),
      service_(std::move(service)),
      client_(std::move(client)),
      pipes_(pipes),
      connecting_(std::make_unique<Connecting>()) {
    connecting_->peer = peer;
    connecting_->local = local;
    connecting_->greeting = std::move(greeting);
}

std::uint64_t RedirectSession::last_activity() const {
    return bridge_started_ ? std::max(bridge_.last_activity(), last_activity_) : last_activity_;
}

void RedirectSession::start() {
    const net::Endpoint& to = redirect().to;
    upstream_ = to.to_string();
    if (connecting_->timer.init(loop_) != 0) {
        finish("error");
        return;
    }
    connecting_->timer.on_fire([this] { on_connect_timeout(); });
    if (auto literal = to.literal_address()) {  // an IP literal, or a UNIX path or name
        connecting_->addresses.push_back(*literal);
        try_next();
        return;
    }
    // A name: the look-up runs on libuv's threadpool; only on_resolved, on
    // the loop thread, touches this session.
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    std::string port = std::to_string(to.port);
    resolver_ = new uv_getaddrinfo_t{};
    resolver_->data = this;
    int rc = uv_getaddrinfo(loop_, resolver_, &RedirectSession::on_resolved, to.host.c_str(), port.c_str(), &hints);
    if (rc != 0) {
        delete resolver_;
        resolver_ = nullptr;
        fail("cannot resolve " + to.host + ": " + uv_strerror(rc));
    }
}

void RedirectSession::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    auto* self = static_cast<RedirectSession*>(req->data);
    self->resolver_ = nullptr;
    delete req;
    self->resolved(status, res);
}

void RedirectSession::resolved(int status, addrinfo* res) {
    if (state_ == State::finishing) {  // stopped while looking up: this was the cancel coming back
        uv_freeaddrinfo(res);
        part_closed();
        return;
    }
    if (status < 0) {
        uv_freeaddrinfo(res);
        fail("cannot resolve " + redirect().to.host + ": " + uv_strerror(status));
        return;
    }
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
            connecting_->addresses.push_back(net::SockAddr::from(ai->ai_addr, ai->ai_addrlen));
        }
    }
    uv_freeaddrinfo(res);
    if (connecting_->addresses.empty()) {
        fail("cannot resolve " + redirect().to.host + ": no IPv4 or IPv6 address");
        return;
    }
    try_next();
}

int RedirectSession::open_upstream(const net::SockAddr& address) {
    int s = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return errno;
    connecting_->attempt.reset(s);
    const std::string& source = redirect().source;
    if (!source.empty()) {
        auto local = source_address(source, address.family());
        if (!local) return EAFNOSUPPORT;
        int one = 1;
        // Pick the port at connect time, so many upstream connections can
        // share the source address.
        (void)::setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(s, local->get(), local->length) != 0) return errno;
    }
    if (address.family() != AF_UNIX) {
        int one = 1;
        (void)::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (::connect(s, address.get(), address.length) == 0) return 0;
    // A UNIX listener with a full backlog says EAGAIN: a failure, not a wait.
    return errno == EINPROGRESS ? EINPROGRESS : errno;
}

void RedirectSession::try_next() {
    state_ = State::connecting;
    Connecting& c = *connecting_;
    while (c.next < c.addresses.size()) {
        const net::SockAddr& address = c.addresses[c.next++];
        upstream_ = address.to_string();
        int rc = open_upstream(address);
        if (rc == EINPROGRESS) rc = connected_already(c.attempt.get());
        if (rc == 0) {
            connected();
            return;
        }
        if (rc == EINPROGRESS) {
            c.attempt_poll = std::make_unique<uv::Poll>();
            if (c.attempt_poll->init(loop_, c.attempt.get()) == 0) {
                c.attempt_poll->on_event([this](int, int) { on_connect_event(); });
                if (c.attempt_poll->watch(UV_WRITABLE) == 0) {
                    c.timer.start(redirect().connect_timeout);
                    return;
                }
            }
            rc = EBADF;
        }
        c.last_error = upstream_ + ": " + (rc == EAFNOSUPPORT ? "not of the source address's family" : std::strerror(rc));
        drop_attempt();
    }
    std::string target = redirect().to.to_string();
    fail("cannot connect to " + target + (c.last_error.empty() ? "" : " (" + c.last_error + ")"));
}

void RedirectSession::on_connect_event() {
    if (state_ != State::connecting) return;
    int err = connect_error(connecting_->attempt.get());
    if (err == 0) {
        connected();
        return;
    }
    connecting_->last_error = upstream_ + ": " + std::strerror(err);
    drop_attempt();
    try_next();
}

void RedirectSession::on_connect_timeout() {
    if (state_ != State::connecting) return;
    connecting_->last_error = upstream_ + ": no answer within " + seconds_text(redirect().connect_timeout);
    drop_attempt();
    try_next();
}

void RedirectSession::drop_attempt() {
    if (!connecting_) return;
    Connecting& c = *connecting_;
    c.timer.stop();
    if (c.attempt_poll) {
        // The fd stays open until its Poll has closed.
        uv::Poll* poll = c.attempt_poll.release();
        int fd = c.attempt.release();
        ++pending_;
        poll->close([this, poll, fd] {
            Fd closing(fd);
            delete poll;
            part_closed();
        });
    }
    c.attempt.reset();
}

void RedirectSession::release_connecting() {
    drop_attempt();
    if (!connecting_) return;
    Connecting* c = connecting_.release();
    ++pending_;
    c->timer.close([this, c] {
        delete c;
        part_closed();
    });
}

void RedirectSession::connected() {
    Connecting& c = *connecting_;
    c.timer.stop();
    if (c.attempt_poll) {
        // Closing a Poll stops its watch at once; the bridge then watches
        // the same fd with its own Poll.
        uv::Poll* poll = c.attempt_poll.release();
        ++pending_;
        poll->close([this, poll] {
            delete poll;
            part_closed();
        });
    }
    state_ = State::forwarding;
    touch();
    std::string header;
    if (redirect().proxy_protocol != config::ProxyVersion::none) {
        net::SockAddr local = c.local.length != 0 ? c.local : net::local_address(client_.get());
        header = redirect().proxy_protocol == config::ProxyVersion::v1 ? net::proxy_v1_header(c.peer, local)
                                                                       : net::proxy_v2_header(c.peer, local);
    }
    io::SpliceBridge::Setup setup;
    setup.pool = pipes_;
    setup.prefix_to_a = std::move(c.greeting);
    setup.prefix_to_b = std::move(header);
    Fd upstream = std::move(c.attempt);
    release_connecting();
    bridge_started_ = true;
    int rc = bridge_.start(loop_, std::move(client_), std::move(upstream), std::move(setup), *this);
    if (rc != 0) finish("error");
}

bool RedirectSession::bridge_fds_changed(int delta) { return observer_->on_fds_changed(*this, delta); }

void RedirectSession::bridge_finished(int err) { finish(err == 0 ? std::string_view("closed") : reason_for(err)); }

void RedirectSession::bridge_closed() { part_closed(); }

void RedirectSession::fail(std::string error) {
    if (state_ == State::finishing) return;
    observer_->on_forward_failed(*this, error);
    finish("forward failed");
}

void RedirectSession::stop(std::string_view reason) { finish(reason); }

void RedirectSession::finish(std::string_view reason) {
    if (state_ == State::finishing) return;
    state_ = State::finishing;
    reason_ = reason;
    ++pending_;  // held until every close below has been started
    if (resolver_ != nullptr) {
        // The callback still comes (with UV_ECANCELED if the look-up had
        // not started); resolved() counts it.
        ++pending_;
        (void)uv_cancel(reinterpret_cast<uv_req_t*>(resolver_));
    }
    release_connecting();
    if (bridge_started_) {
        ++pending_;
        bridge_.close();  // bridge_closed() follows
    }
    client_.reset();
    part_closed();
}

void RedirectSession::part_closed() {
    assert(pending_ > 0);
    if (--pending_ == 0 && state_ == State::finishing && !reported_) {
        reported_ = true;
        report(Outcome{.reason = reason_});
    }
}

}  // namespace sb::services
