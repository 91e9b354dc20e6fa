// Listener: a service's pause reasons and handler over an io::Acceptor,
// with what recovery needs: whether the socket still listens, poll errors
// handed to the handler, and moving off an overlapping address.
#include "server/listener.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/log.hpp"

namespace sb::server {

Listener::Listener(const config::Listen& listen, io::Acceptor* acceptor) : listen_(listen), acceptor_(acceptor) {}

Listener* Listener::adopt(uv_loop_t* loop, const config::Listen& listen, net::BoundSocket bound,
                          std::string& error) {
    io::Acceptor* acceptor = io::Acceptor::adopt(loop, bound, listen.endpoint.to_string(), error);
    if (acceptor == nullptr) return nullptr;
    auto* self = new Listener(listen, acceptor);
    acceptor->set_budget(k_accept_budget);
    acceptor->set_handoff(self->is_datagram());
    io::Acceptor::Events events;
    events.accepted = [self](Fd fd, const net::SockAddr& peer) {
        if (self->handler_ != nullptr && !self->released_) self->handler_->on_accepted(*self, std::move(fd), peer);
    };
    events.ready = [self] {
        if (self->handler_ != nullptr && !self->released_) self->handler_->on_ready(*self);
    };
    events.failed = [self](int err) {
        if (self->handler_ == nullptr) return;
        if (io::Acceptor::out_of_resources(err)) {
            self->handler_->on_accept_exhausted(*self, err);
        } else if (err == EINVAL) {
            self->handler_->on_listener_broken(*self, UV_EINVAL);  // no longer listening
        } else {
            self->handler_->on_accept_failed(*self, err);
        }
    };
    events.poll_error = [self](int status) {
        if (self->handler_ != nullptr) self->handler_->on_listener_broken(*self, status);
    };
    acceptor->set_events(std::move(events));
    return self;
}

void Listener::on_poll_event(int status, int) {
    if (status >= 0) {
        acceptor_->on_ready_for_test();
        return;
    }
    // libuv has stopped watching: a later update_watch() must start it again.
    acceptor_->stopped_by_error();
    if (handler_ != nullptr) handler_->on_listener_broken(*this, status);
}

bool Listener::listening() const {
    int on = 0;
    socklen_t length = sizeof on;
    if (::getsockopt(fd(), SOL_SOCKET, SO_ACCEPTCONN, &on, &length) != 0 || on == 0) return false;
    pollfd p{fd(), POLLIN | POLLRDHUP, 0};
    return !(::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) != 0);
}

void Listener::set_pause_reasons(std::uint8_t reasons) {
    pause_reasons_ = reasons;
    update_watch();
}

// The acceptor watches exactly while the listener serves (and holds its
// address); a handler that pauses the listener mid-loop stops the
// accepting at once.
void Listener::update_watch() { (void)acceptor_->watch(serving() && !released_); }

int Listener::release_address() {
    if (released_) return 0;
    if (listen_.endpoint.transport == net::Transport::unix_stream) return -EINVAL;
    (void)acceptor_->watch(false);  // epoll forgets the fd before its socket changes
    int fd = acceptor_->fd();
    int family = net::local_address(fd).family();
    Fd unbound(::socket(family, (is_datagram() ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!unbound || ::dup3(unbound.get(), fd, O_CLOEXEC) < 0) {
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
    if (::dup3(fresh.get(), acceptor_->fd(), O_CLOEXEC) < 0) {
        int err = errno;
        error = std::string("cannot put the socket back: ") + std::strerror(err);
        return -err;
    }
    released_ = false;
    update_watch();
    return 0;
}

void Listener::close(bool remove_file, std::function<void()> done) {
    handler_ = nullptr;
    acceptor_->close(remove_file, [this, done = std::move(done)] {
        auto cb = done;
        delete this;
        if (cb) cb();
    });
}

}  // namespace sb::server
