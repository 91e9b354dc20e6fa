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
#include "log/log.hpp"
#include "net/socket.hpp"
#include "sys/faults.hpp"

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

// One listening socket. Freed in its poll's close callback, after its fd is closed.
struct ControlServer::Acceptor {
    config::Listen listen;
    Fd fd;
    net::SocketFile file;  // the socket file we created, if any
    uv::Poll poll;

    void close() {
        net::remove_socket_file(file);
        poll.close([this] { delete this; });  // closes the fd
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

ControlServer::Acceptor* ControlServer::bind(const config::Listen& listen, std::string& error) {
    net::BoundSocket bound;
    if (net::bind_listener(listen, bound, error) < 0) return nullptr;
    auto* a = new Acceptor;
    a->listen = listen;
    a->fd.reset(bound.fd);
    a->file = bound.file;
    int rc = a->poll.init(server_.loop(), a->fd.get());
    if (rc == 0) {
        a->poll.on_event([this, a](int status, int) {
            if (status < 0) {
                log::warning("control-poll-error", {{"address", a->listen.endpoint.to_string()},
                                                    {"error", uv_strerror(status)}});
                (void)a->poll.watch(0);  // the tick tries again
                return;
            }
            accept_from(*a);
        });
        rc = a->poll.watch(UV_READABLE);
    }
    if (rc != 0) {
        error = "cannot watch " + listen.endpoint.to_string() + ": " + uv_strerror(rc);
        a->close();
        return nullptr;
    }
    return a;
}

void ControlServer::accept_from(Acceptor& acceptor) {
    for (int i = 0; i < k_accepts_per_wakeup; ++i) {
        Fd fd(sys::accept4(acceptor.fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            int err = errno;
            if (err == EINTR || err == ECONNABORTED) continue;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            // Out of fds or memory: stop watching until the next tick
            // rather than spin on a socket that stays readable.
            log::warning("control-accept-failed",
                         {{"address", acceptor.listen.endpoint.to_string()}, {"error", std::strerror(err)}});
            (void)acceptor.poll.watch(0);
            return;
        }
        if (connections_.size() >= k_max_connections) {
            std::string reply = reply_error("too many control connections; try again");
            (void)!::send(fd.get(), reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            fd.reset();
            log::warning("control-busy", {{"connections", connections_.size()}});
            continue;
        }
        ControlPeer peer = ControlPeer::of(fd.get());
        ControlConnection* c = ControlConnection::open(server_.loop(), std::move(fd), *this, std::move(peer));
        if (c != nullptr) connections_.insert(c);
    }
}

std::optional<Reply> ControlServer::on_request(ControlConnection& connection, std::string_view line) {
    const ControlPeer& peer = connection.peer();
    std::string uid = peer.uid ? std::to_string(*peer.uid) : std::string("-");
    auto parsed = parse_request(line);
    if (!parsed.request) {
        log::warning("control-bad-request", {{"peer", peer.address}, {"uid", uid}, {"error", parsed.error}});
        return Reply{reply_error(parsed.error), {}};
    }
    const Request& request = *parsed.request;
    // Every command, read-only ones included: who asked the server what is
    // part of the audit trail.
    log::info("control", {{"command", command_name(request.command)},
                          {"service", request.service.empty() ? std::string("-") : request.service},
                          {"uid", uid},
                          {"pid", static_cast<long>(peer.pid)},
                          {"peer", peer.address}});
    ControlConnection* c = &connection;
    return execute(request, server_, reloads_, [c, alive = c->lifetime()](Reply reply) {
        if (!alive.expired()) c->respond(std::move(reply));
    });
}

void ControlServer::on_connection_closed(ControlConnection& connection) { connections_.erase(&connection); }

void ControlServer::on_applied(const config::Config& config, const server::ApplyReport& report) {
    ++reloads_.succeeded;
    reloads_.last_ok = true;
    reloads_.last_milliseconds = report.milliseconds;
    rebind(config.control);
}

void ControlServer::on_reload_failed(const server::ApplyReport&) {
    ++reloads_.failed;
    reloads_.last_ok = false;
}

void ControlServer::rebind(const config::Control& next) {
    if (closed_ || !started_) return;
    if (next.socket != bound_.socket) {
        std::string error;
        Acceptor* fresh = next.socket.empty() ? nullptr : bind(unix_listen(next), error);
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
        const char* path = bound_.socket.c_str();
        if (::chmod(path, next.mode) != 0 ||
            (next.group && ::chown(path, static_cast<uid_t>(-1), *next.group) != 0)) {
            log::error("control-chmod-failed", {{"socket", bound_.socket}, {"error", std::strerror(errno)}});
        } else {
            bound_.mode = next.mode;
            bound_.group = next.group;
        }
    }
    if (next.tcp != bound_.tcp) {
        std::string error;
        Acceptor* fresh = next.tcp ? bind(tcp_listen(*next.tcp), error) : nullptr;
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
        // A client waiting for its reload is not idle, however long NSS takes.
        if (!c->owes_reply() && now - c->last_activity() >= k_idle_ms) c->close();
    }
    for (Acceptor* a : {unix_, tcp_}) {
        if (a != nullptr && a->poll.events() == 0) (void)a->poll.watch(UV_READABLE);
    }
}

void ControlServer::on_dump_requested() { log_state(snapshot_status(server_, reloads_), snapshot_services(server_)); }

void ControlServer::on_closing() { close(); }

}  // namespace sb::control
