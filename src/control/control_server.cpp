// The control socket: listening, accepting, and dispatching requests (see
// control_server.hpp).
#include "control/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "control/protocol.hpp"
#include "io/acceptor.hpp"
#include "log/log.hpp"
#include "net/socket.hpp"

namespace sb::control {
namespace {

constexpr int k_accepts_per_wakeup = 16;
constexpr std::chrono::milliseconds k_tick{1000};

config::Listen unix_listen(const config::Control& control) {
    config::Listen l;
    l.endpoint.transport = net::Transport::unix_stream;
    l.endpoint.host = control.socket;
    l.options.backlog = 64;
    l.options.mode = control.mode;
    l.options.group = control.group;
    return l;
}

config::Listen tcp_listen(const net::Endpoint& endpoint) {
    config::Listen l;
    l.endpoint = endpoint;
    l.options.backlog = 64;
    return l;
}

}  // namespace

// One listening control socket: what was configured, and the shared
// io::Acceptor that owns the socket (and frees itself once closed).
struct ControlServer::Socket {
    config::Listen listen;
    io::Acceptor* acceptor;

    // Removes the socket file, if we created it and it is still ours.
    void close() {
        acceptor->close(true);
        delete this;
    }
};

ControlServer::ControlServer(server::ServerControl& server) : server_(server) {}

ControlServer::~ControlServer() = default;

std::string ControlServer::socket_path() const { return unix_ != nullptr ? unix_->listen.endpoint.host : std::string(); }

std::string ControlServer::start(const config::Control& control) {
    started_ = true;
    if (int rc = tick_.init(server_.loop()); rc != 0) return std::string("control timer: ") + uv_strerror(rc);
    tick_.on_fire([this] { tick(); });
    tick_.start(k_tick, k_tick);
    tick_.unref();

    std::string error;
    if (!control.socket.empty()) {
        unix_ = bind(unix_listen(control), error);
        if (unix_ == nullptr) return "control socket: " + error;
    }
    if (control.tcp) {
        tcp_ = bind(tcp_listen(*control.tcp), error);
        if (tcp_ == nullptr) {
            if (unix_ != nullptr) unix_->close();
            unix_ = nullptr;
            return "control socket: " + error;
        }
    }
    bound_ = control;
    access_ = AccessPolicy::from(control, ::geteuid());
    if (unix_ != nullptr || tcp_ != nullptr) {
        log::info("control-listening", {{"socket", control.socket.empty() ? std::string("-") : control.socket},
                                        {"tcp", control.tcp ? control.tcp->to_string() : std::string("-")}});
    }
    return {};
}

void ControlServer::close() {
    if (closed_) return;
    closed_ = true;
    if (unix_ != nullptr) unix_->close();
    if (tcp_ != nullptr) tcp_->close();
    unix_ = tcp_ = nullptr;
    auto open = connections_;  // each close() leaves the set
    // A client waiting for its reload hears why it will get no result.
    server::ApplyReport abandoned;
    abandoned.errors.emplace_back("the server is shutting down; the reload was not applied");
    std::string owed = reply_reload(abandoned, server_.generation());
    for (ControlConnection* c : open) c->close(owed);
    tick_.close();
}

ControlServer::Socket* ControlServer::bind(const config::Listen& listen, std::string& error) {
    net::BoundSocket bound;
    if (net::bind_listener(listen, bound, error) < 0) return nullptr;
    std::string address = listen.endpoint.to_string();
    io::Acceptor* acceptor = io::Acceptor::adopt(server_.loop(), bound, address, error);
    if (acceptor == nullptr) return nullptr;
    acceptor->set_budget(k_accepts_per_wakeup);
    io::Acceptor::Events events;
    events.accepted = [this](Fd fd, const net::SockAddr&) { admit(std::move(fd)); };
    // Out of fds or memory, or a poll error: stop watching until the next
    // tick rather than spin on a socket that stays readable.
    events.failed = [acceptor, address](int err) {
        log::warning("control-accept-failed", {{"address", address}, {"error", std::strerror(err)}});
        (void)acceptor->watch(false);
    };
    events.poll_error = [acceptor, address](int status) {
        log::warning("control-poll-error", {{"address", address}, {"error", uv_strerror(status)}});
        (void)acceptor->watch(false);
    };
    acceptor->set_events(std::move(events));
    if (int rc = acceptor->watch(true); rc != 0) {
        error = "cannot watch " + address + ": " + uv_strerror(rc);
        acceptor->close(true);
        return nullptr;
    }
    return new Socket{listen, acceptor};
}

void ControlServer::admit(Fd fd) {
    ControlPeer peer = ControlPeer::of(fd.get());
    if (std::string why = no_room_for(peer); !why.empty()) {
        std::string reply = reply_error(why + "; try again later");
        (void)!::send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        fd.reset();
        // Counted always, logged once per second at most: a peer hammering
        // the socket must not flood the log.
        if (history_.refused.busy++ == busy_logged_) {
            log::warning("control-busy", {{"peer", peer.address},
                                          {"source", peer.source()},
                                          {"connections", connections_.size()},
                                          {"error", why}});
        }
        return;
    }
    ControlConnection* c = ControlConnection::open(server_.loop(), std::move(fd), *this, std::move(peer));
    if (c != nullptr) connections_.insert(c);
}

std::string ControlServer::no_room_for(const ControlPeer& peer) const {
    if (connections_.size() >= k_max_connections) return "too many control connections";
    if (is_privileged(peer, access_)) return {};
    if (connections_.size() >= k_max_connections - k_reserved) {
        return "too many control connections (the last " + std::to_string(k_reserved) +
               " are kept for root and the server's user)";
    }
    std::string source = peer.source();
    std::size_t mine = 0;
    for (const ControlConnection* c : connections_) {
        if (c->peer().source() == source) ++mine;
    }
    if (mine >= k_max_per_peer) {
        return "too many control connections from " + source + " (at most " + std::to_string(k_max_per_peer) + ")";
    }
    return {};
}

std::optional<Reply> ControlServer::on_request(ControlConnection& connection, std::string_view line) {
    const ControlPeer& peer = connection.peer();
    std::string uid = peer.uid ? std::to_string(*peer.uid) : std::string("-");
    auto parsed = parse_request(line);
    if (!parsed.request) {
        ++history_.refused.malformed;
        log::warning("control-bad-request",
                     {{"peer", peer.address}, {"uid", uid}, {"error", parsed.error}, {"closing", peer.tcp}});
        // On TCP whoever sends a line that is not a request is not ctl: an
        // HTTP client, say, whose next lines must not be read as requests.
        Reply reply{reply_error(peer.tcp ? parsed.error + "; closing" : parsed.error), {}};
        reply.close = peer.tcp;
        return reply;
    }
    const Request& request = *parsed.request;
    if (std::string denied = refusal(request, peer, access_); !denied.empty()) {
        ++history_.refused.denied;
        log::warning("control-denied", {{"command", command_name(request.command)},
                                        {"service", request.service.empty() ? std::string("-") : request.service},
                                        {"uid", uid},
                                        {"pid", static_cast<long>(peer.pid)},
                                        {"peer", peer.address},
                                        {"error", denied}});
        return Reply{reply_error(denied), {}};
    }
    // Every command, read-only ones included: who asked the server what is
    // part of the audit trail.
    log::info("control", {{"command", command_name(request.command)},
                          {"service", request.service.empty() ? std::string("-") : request.service},
                          {"uid", uid},
                          {"pid", static_cast<long>(peer.pid)},
                          {"peer", peer.address}});
    ControlConnection* c = &connection;
    return execute(request, server_, history_, [c, alive = c->lifetime()](Reply reply) {
        if (!alive.expired()) c->respond(std::move(reply));
    });
}

void ControlServer::on_connection_closed(ControlConnection& connection) { connections_.erase(&connection); }

void ControlServer::on_applied(const config::Config& config, const server::ApplyReport& report) {
    ++history_.reloads.succeeded;
    history_.reloads.last_ok = true;
    history_.reloads.last_milliseconds = report.milliseconds;
    if (started_ && !closed_) access_ = AccessPolicy::from(config.control, ::geteuid());
    rebind(config.control);
}

void ControlServer::on_reload_failed(const server::ApplyReport&) {
    ++history_.reloads.failed;
    history_.reloads.last_ok = false;
}

void ControlServer::rebind(const config::Control& next) {
    if (closed_ || !started_) return;
    if (next.socket != bound_.socket) {
        std::string error;
        Socket* fresh = next.socket.empty() ? nullptr : bind(unix_listen(next), error);
        if (!next.socket.empty() && fresh == nullptr) {
            // The old socket keeps serving; the next reload tries again.
            log::error("control-rebind-failed", {{"socket", next.socket}, {"error", error}});
        } else {
            if (unix_ != nullptr) unix_->close();
            unix_ = fresh;
            bound_.socket = next.socket;
            bound_.mode = next.mode;
            bound_.group = next.group;
            log::info("control-socket-moved", {{"socket", next.socket.empty() ? std::string("-") : next.socket}});
        }
    } else if (unix_ != nullptr && (next.mode != bound_.mode || next.group != bound_.group)) {
        // Only the socket file bound here, never what a path now names.
        std::string why;
        if (net::set_socket_file_access(unix_->acceptor->file(), unix_listen(next).options, why) != 0) {
            log::error("control-chmod-failed", {{"socket", bound_.socket}, {"error", why}});
        } else {
            bound_.mode = next.mode;
            bound_.group = next.group;
        }
    }
    if (next.tcp != bound_.tcp) {
        std::string error;
        Socket* fresh = next.tcp ? bind(tcp_listen(*next.tcp), error) : nullptr;
        if (next.tcp && fresh == nullptr) {
            log::error("control-rebind-failed", {{"tcp", next.tcp->to_string()}, {"error", error}});
        } else {
            if (tcp_ != nullptr) tcp_->close();
            tcp_ = fresh;
            bound_.tcp = next.tcp;
            log::info("control-tcp-moved", {{"tcp", next.tcp ? next.tcp->to_string() : std::string("-")}});
        }
    }
}

void ControlServer::tick() {
    std::uint64_t now = uv_now(server_.loop());
    auto open = connections_;
    for (ControlConnection* c : open) {
        if (auto since = c->busy_since(); since && now - *since >= k_request_deadline_ms) {
            ++history_.refused.deadline;
            log::warning("control-deadline", {{"peer", c->peer().address}, {"source", c->peer().source()}});
            c->hang_up(reply_error("the request was not complete, or its reply not read, within " +
                                 std::to_string(k_request_deadline_ms / 1000) + "s; closing"));
            continue;
        }
        // A client waiting for its reload is not idle, however long NSS takes.
        if (!c->owes_reply() && now - c->last_activity() >= k_idle_ms) c->close();
    }
    busy_logged_ = history_.refused.busy;
    for (Socket* socket : {unix_, tcp_}) {
        if (socket != nullptr && !socket->acceptor->watching()) (void)socket->acceptor->watch(true);
    }
}

void ControlServer::on_dump_requested() { log_state(snapshot_status(server_, history_), snapshot_services(server_)); }

void ControlServer::on_closing() { close(); }

}  // namespace sb::control
