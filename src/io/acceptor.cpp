// Acceptor: the accept loop with a budget, and a close that removes only
// our own socket file (see acceptor.hpp).
#include "io/acceptor.hpp"

#include "sys/faults.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sb::io {

Acceptor::Acceptor(net::BoundSocket bound) : fd_(bound.fd), file_(bound.file) {}

Acceptor* Acceptor::adopt(uv_loop_t* loop, net::BoundSocket bound, const std::string& what, std::string& error) {
    auto* self = new Acceptor(bound);
    if (int rc = self->poll_.init(loop, self->fd_.get()); rc != 0) {
        error = "cannot watch " + what + ": " + uv_strerror(rc);
        self->close(true);
        return nullptr;
    }
    self->poll_.on_event([self](int status, int) {
        if (self->closing_) return;
        if (status < 0) {
            // libuv has stopped the handle; the owner decides whether to watch again.
            self->stopped_by_error();
            if (self->events_.poll_error) self->events_.poll_error(status);
            return;
        }
        self->on_readable();
    });
    return self;
}

int Acceptor::watch(bool on) {
    watching_ = on && !closing_;
    if (!poll_.initialized() || poll_.closing()) return on ? UV_EBADF : 0;
    int rc = poll_.watch(watching_ ? UV_READABLE : 0);
    if (rc != 0) watching_ = false;
    return rc;
}

void Acceptor::on_readable() {
    if (!watching_ || closing_) return;
    if (handoff_) {
        if (events_.ready) events_.ready();
        return;
    }
    // The callee may stop the watch (a limit reached) or close us; stop then.
    for (int i = 0; i < budget_ && watching_ && !closing_; ++i) {
        net::SockAddr peer;
        peer.length = sizeof peer.storage;
        Fd fd(sys::accept4(fd_.get(), peer.get(), &peer.length,
                        accept_blocking_ ? SOCK_CLOEXEC : SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!fd) {
            int err = errno;
            if (err == EAGAIN || err == EWOULDBLOCK) return;
            if (err == EINTR || one_connections_error(err)) continue;
            if (events_.failed) events_.failed(err);
            return;
        }
        if (events_.accepted) events_.accepted(std::move(fd), peer);
    }
}

bool Acceptor::one_connections_error(int err) {
    // accept(2): Linux hands a new connection's pending network error to
    // accept4, and the connection is gone; the next one may be fine. EPERM:
    // a firewall rule refused it.
    switch (err) {
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH: return true;
        default: return false;
    }
}

bool Acceptor::out_of_resources(int err) { return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM; }

void Acceptor::close(bool remove_file, std::function<void()> done) {
    // events_ stays: close() may run inside one of them.
    closing_ = true;
    watching_ = false;
    poll_.close([this, remove_file, done = std::move(done)] {
        fd_.reset();
        if (remove_file) net::remove_socket_file(file_);
        auto cb = done;
        delete this;
        if (cb) cb();
    });
}

}  // namespace sb::io
