// Listener: accept4 with a budget, pause reasons, and a careful close.
#include "server/listener.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log.hpp"

namespace sb::server {

Listener::Listener(const config::Listen& listen, net::BoundSocket bound)
    : listen_(listen), fd_(bound.fd), file_(bound.file) {}

Listener* Listener::adopt(uv_loop_t* loop, const config::Listen& listen, net::BoundSocket bound,
                          std::string& error) {
    auto* self = new Listener(listen, bound);
    if (int rc = self->poll_.init(loop, self->fd_.get()); rc != 0) {
        error = "cannot watch " + listen.endpoint.to_string() + ": " + uv_strerror(rc);
        self->close(true);
        return nullptr;
    }
    self->poll_.on_event([self](int status, int events) { self->on_poll_event(status, events); });
    return self;
}

void Listener::on_poll_event(int status, int) {
    if (status >= 0) {
        on_readable();
    } else {
        // libuv has stopped watching: a later update_watch() must start it again.
        poll_.stopped_by_error();
        if (handler_ != nullptr) handler_->on_listener_broken(*this, status);
    }
}

bool Listener::listening() const {
    int on = 0;
    socklen_t length = sizeof on;
    if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ACCEPTCONN, &on, &length) != 0 || on == 0) return false;
    pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
    return !(::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0);
}

void Listener::set_pause_reasons(std::uint8_t reasons) {
    pause_reasons_ = reasons;
    update_watch();
}

void Listener::update_watch() {
    if (!poll_.initialized() || poll_.closing()) return;
    (void)poll_.watch(serving() ? UV_READABLE : 0);
}

void Listener::on_readable() {
    if (handler_ == nullptr || !serving()) return;
    if (is_datagram() || handoff_) {
        handler_->on_ready(*this);
        return;
    }
    // The handler may pause us (a limit reached) or close us; stop then.
    for (int i = 0; i < k_accept_budget && serving() && !poll_.closing(); ++i) {
        net::SockAddr peer;
        peer.length = sizeof peer.storage;
        Fd fd(::accept4(fd_.get(), peer.get(), &peer.length,
                        accept_blocking_ ? SOCK_CLOEXEC : SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM) continue;
            if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
                handler_->on_accept_exhausted(*this, err);
            } else if (err == EINVAL) {
                handler_->on_listener_broken(*this, UV_EINVAL);  // no longer listening
            } else {
                log::warning("accept-failed", {{"address", endpoint().to_string()}, {"error", std::strerror(err)}});
            }
            return;
        }
        handler_->on_accepted(*this, std::move(fd), peer);
    }
}

void Listener::close(bool remove_file, std::function<void()> done) {
    handler_ = nullptr;
    poll_.close([this, remove_file, done = std::move(done)] {
        fd_.reset();
        if (remove_file) net::remove_socket_file(file_);
        auto cb = done;
        delete this;
        if (cb) cb();
    });
}

}  // namespace sb::server
