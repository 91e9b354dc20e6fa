// SplicePump: the two directions' state machines and their polls.
//
// Each direction waits on exactly one fd at a time: its source for
// readable, or its destination for writable. splice() reports EAGAIN both
// when the source is empty and when the destination is full; a zero-timeout
// poll() of both tells which, so the pump never spins on a ready fd.
#include "io/splice_pump.hpp"

#include "sys/faults.hpp"
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace sb::io {
namespace {

ssize_t real_splice(int from, int to, std::size_t length, unsigned flags) {
    return sys::splice(from, nullptr, to, nullptr, length, flags);
}

int socket_error(int fd, int fallback) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) return -err;
    return fallback;
}

}  // namespace

int SplicePump::start(uv_loop_t* loop, int client_fd, int to_child_fd, int from_child_fd,
                      std::function<void()> on_finished) {
    loop_ = loop;
    fds_[client].reset(client_fd);
    fds_[to_child].reset(to_child_fd);
    fds_[from_child].reset(from_child_fd);
    on_finished_ = std::move(on_finished);
    last_activity_ = uv_now(loop);
    if (splice_ == nullptr) splice_ = real_splice;
    for (Side side : {client, to_child, from_child}) {
        if (int rc = polls_[side].init(loop, fds_[side].get()); rc != 0) return rc;
        polls_[side].on_event([this, side](int status, int events) { on_event(side, status, events); });
    }
    for (Side side : {client, from_child}) {
        int rc = polls_[side].watch(UV_READABLE);
        if (rc != 0) return rc;
    }
    return 0;
}

void SplicePump::on_event(Side side, int status, int events) {
    if (closing_) return;
    if (status < 0) {
        // libuv stopped the handle (POLLERR); resynchronise the wrapper and
        // let the directions waiting on this fd find the error themselves.
        events = polls_[side].events();
        (void)polls_[side].watch(0);
    }
    bool readable = (events & UV_READABLE) != 0;
    bool writable = (events & UV_WRITABLE) != 0;
    auto waiting = [](const Direction& d, Wait w) { return !d.done && d.wait == w; };
    switch (side) {
        case client:
            if (readable && waiting(in_, Wait::source)) pump(in_);
            if (writable && waiting(out_, Wait::destination)) pump(out_);
            break;
        case to_child:
            if (waiting(in_, Wait::destination) && !in_.discard) pump(in_);
            break;
        case from_child:
            if (waiting(out_, Wait::source)) pump(out_);
            break;
    }
    update_interest();
    if (finished() && !reported_ && !closing_) {
        reported_ = true;
        if (on_finished_) on_finished_();  // may close the pump
    }
}

void SplicePump::pump(Direction& d) {
    for (int i = 0; i < k_calls_per_wakeup; ++i) {
        Step step = d.discard ? discard_step(d) : d.copy ? copy_step(d) : splice_step(d);
        if (step != Step::moved) return;
    }
    // Budget spent: the next loop iteration continues, after every other
    // ready connection. A copy still holding bytes waits to write them.
    d.wait = d.head < d.tail ? Wait::destination : Wait::source;
}

void SplicePump::moved(Direction& d, std::size_t n) {
    d.bytes += n;
    last_activity_ = uv_now(loop_);
}

SplicePump::Step SplicePump::splice_step(Direction& d) {
    ssize_t n = splice_(fds_[d.source].get(), fds_[d.destination].get(), k_splice_length,
                        SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
    if (n > 0) {
        moved(d, static_cast<std::size_t>(n));
        return Step::moved;
    }
    if (n == 0) {
        end(d, 0);
        return Step::ended;
    }
    int err = errno;
    switch (err) {
        case EINTR: return Step::moved;
        case EAGAIN: return blocked(d);
        case EINVAL:
        case ENOSYS:
            d.copy = true;  // this pair of fds cannot splice: copy instead
            return Step::moved;
        default: return failed(d, -err, d.way == Way::in && err == EPIPE ? to_child : client);
    }
}

SplicePump::Step SplicePump::copy_step(Direction& d) {
    int source = fds_[d.source].get();
    int destination = fds_[d.destination].get();
    if (d.head < d.tail) {
        ssize_t n = write(destination, d.buffer.get() + d.head, d.tail - d.head);
        if (n > 0) {
            moved(d, static_cast<std::size_t>(n));
            d.head += static_cast<std::size_t>(n);
            if (d.head == d.tail) d.head = d.tail = 0;
            return Step::moved;
        }
        int err = n < 0 ? errno : EAGAIN;
        if (err == EINTR) return Step::moved;
        if (err == EAGAIN) {
            d.wait = Wait::destination;
            return Step::blocked;
        }
        return failed(d, -err, d.destination);
    }
    if (d.eof) {
        end(d, 0);
        return Step::ended;
    }
    if (!d.buffer) d.buffer = std::make_unique_for_overwrite<char[]>(k_chunk);
    ssize_t n = read(source, d.buffer.get(), k_chunk);
    if (n > 0) {
        d.tail = static_cast<std::size_t>(n);
        return Step::moved;
    }
    if (n == 0) {
        d.eof = true;
        return Step::moved;
    }
    int err = errno;
    if (err == EINTR) return Step::moved;
    if (err == EAGAIN) {
        d.buffer.reset();  // idle directions hold no buffer
        d.wait = Wait::source;
        return Step::blocked;
    }
    return failed(d, -err, d.source);
}

SplicePump::Step SplicePump::discard_step(Direction& d) {
    char sink[16 * 1024];
    ssize_t n = read(fds_[client].get(), sink, sizeof sink);
    if (n > 0) {
        last_activity_ = uv_now(loop_);
        return Step::moved;
    }
    if (n == 0) {
        end(d, d.error);
        return Step::ended;
    }
    int err = errno;
    if (err == EINTR) return Step::moved;
    if (err == EAGAIN) {
        d.wait = Wait::source;
        return Step::blocked;
    }
    return failed(d, -err, client);
}

// splice() said EAGAIN: is the destination full, or the source empty?
SplicePump::Step SplicePump::blocked(Direction& d) {
    pollfd fds[1] = {{fds_[d.destination].get(), POLLOUT, 0}};
    int rc = ::poll(fds, 1, 0);
    short revents = rc > 0 ? fds[0].revents : 0;
    if ((revents & (POLLERR | POLLHUP)) != 0) {
        // The destination is broken: no reader on the child's stdin, or a
        // dead client socket.
        int err = d.destination == client ? socket_error(fds_[client].get(), -EPIPE) : -EPIPE;
        return failed(d, err, d.destination);
    }
    d.wait = (revents & POLLOUT) != 0 ? Wait::source : Wait::destination;
    return Step::blocked;
}

SplicePump::Step SplicePump::failed(Direction& d, int err, Side side) {
    if (side == to_child) {
        // The child no longer reads its stdin: drop what it did not take and
        // keep reading the client so that its EOF (or reset) is still seen.
        d.error = err;
        d.discard = true;
        d.buffer.reset();
        d.head = d.tail = 0;
        d.wait = Wait::source;
        close_side(to_child);
        return Step::moved;
    }
    if (side == client) {
        client_failed(err);
    } else {
        end(d, err);
    }
    return Step::ended;
}

void SplicePump::end(Direction& d, int err) {
    if (d.done) return;
    d.done = true;
    d.error = err;
    d.buffer.reset();
    d.head = d.tail = 0;
    if (d.way == Way::in) {
        close_side(to_child);  // the child reads EOF
        if (on_input_ended_ && !closing_) on_input_ended_();
    } else {
        if (!client_failed_) shutdown(fds_[client].get(), SHUT_WR);  // the client reads EOF
        close_side(from_child);
    }
}

void SplicePump::client_failed(int err) {
    client_failed_ = true;
    end(in_, err);
    end(out_, err);
}

void SplicePump::update_interest() {
    int client_events = 0;
    if (!in_.done && in_.wait == Wait::source) client_events |= UV_READABLE;
    if (!out_.done && out_.wait == Wait::destination) client_events |= UV_WRITABLE;
    std::array<int, 3> wanted{
        client_events,
        !in_.done && !in_.discard && in_.wait == Wait::destination ? UV_WRITABLE : 0,
        !out_.done && out_.wait == Wait::source ? UV_READABLE : 0,
    };
    for (Side side : {client, to_child, from_child}) {
        uv::Poll& poll = polls_[side];
        if (!poll.initialized() || poll.closing()) continue;
        if (poll.watch(wanted[side]) != 0) {
            client_failed(-EIO);  // cannot watch: give the connection up
            return update_interest();
        }
    }
}

void SplicePump::close_side(Side side) {
    if (polls_[side].closing()) return;
    polls_[side].close([this, side] {
        fds_[side].reset();
        handle_closed();
    });
}

void SplicePump::close(std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    on_closed_ = std::move(done);
    in_.done = out_.done = true;
    in_.buffer.reset();
    out_.buffer.reset();
    if (open_handles_ == 0) {
        auto cb = std::move(on_closed_);
        if (cb) cb();
        return;
    }
    for (Side side : {client, to_child, from_child}) close_side(side);
}

void SplicePump::handle_closed() {
    if (--open_handles_ > 0 || !closing_) return;
    auto cb = std::move(on_closed_);
    if (cb) cb();  // may free *this
}

}  // namespace sb::io
