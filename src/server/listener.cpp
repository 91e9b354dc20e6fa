// Listener: accept4 with a budget, pause reasons, and a careful close.
#include "server/listener.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
    self->poll_.on_event([self](int status, int) {
        if (status >= 0) self->on_readable();
    });
    return self;
}

void Listener::set_pause_reasons(std::uint8_t reasons) {
    pause_reasons_ = reasons;
    update_watch();
}

void Listener::update_watch() {
    if (!poll_.initialized() || poll_.closing()) return;
    (void)poll_.watch(serving() && !released_ ? UV_READABLE : 0);
}

int Listener::release_address() {
    if (released_) return 0;
    if (listen_.endpoint.transport == net::Transport::unix_stream) return -EINVAL;
    (void)poll_.watch(0);  // epoll forgets the fd before its socket changes
    int family = net::local_address(fd_.get()).family();
    Fd unbound(::socket(family, (is_datagram() ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!unbound || ::dup3(unbound.get(), fd_.get(), O_CLOEXEC) < 0) {
        int err = errno;
        update_watch();
        return -err;
    }
    released_ = true;
    return 0;
}

int Listener::restore_address(std::string& error) {
    if (!released_) return 0;
    net::BoundSocket bound;
    if (int rc = net::bind_listener(listen_, bound, error); rc < 0) return rc;
    Fd fresh(bound.fd);
    if (::dup3(fresh.get(), fd_.get(), O_CLOEXEC) < 0) {
        int err = errno;
        error = std::string("cannot put the socket back: ") + std::strerror(err);
        return -err;
    }
    released_ = false;
    update_watch();
    return 0;
}

void Listener::on_readable() {
    if (handler_ == nullptr || !serving() || released_) return;
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
