// Listener: accept4 with a budget, pause reasons, and a careful close.
#include "server/listener.hpp"

#include "sys/faults.hpp"
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
        Fd fd(sys::accept4(fd_.get(), peer.get(), &peer.length,
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
