// SpliceBridge: the two directions' state machines (see splice_bridge.hpp).
//
// A direction splices its source into an empty pipe, then the pipe into
// its destination until the pipe is empty again. Splicing only into an
// empty pipe makes EAGAIN unambiguous: from the source it means "nothing
// to read", from the pipe "the destination is full". Each direction waits
// on one fd at a time, so the bridge never spins on a ready fd.
#include "io/splice_bridge.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace sb::io {
namespace {

ssize_t real_splice(int from, int to, std::size_t length, unsigned flags) {
    return ::splice(from, nullptr, to, nullptr, length, flags);
}

}  // namespace

int SpliceBridge::start(uv_loop_t* loop, Fd end_a, Fd end_b, Setup setup, std::function<void(int)> on_finished) {
    loop_ = loop;
    fds_[a] = std::move(end_a);
    fds_[b] = std::move(end_b);
    pool_ = setup.pool;
    fd_gate_ = std::move(setup.fd_gate);
    splice_ = setup.splice != nullptr ? setup.splice : real_splice;
    dirs_[b].prefix = std::move(setup.prefix_to_a);  // the b → a direction writes to a
    dirs_[a].prefix = std::move(setup.prefix_to_b);
    on_finished_ = std::move(on_finished);
    last_activity_ = uv_now(loop);
    for (End end : {a, b}) {
        if (int rc = polls_[end].init(loop, fds_[end].get()); rc != 0) return rc;
        polls_[end].on_event([this, end](int status, int events) { on_event(end, status, events); });
    }
    // Prefixes first: a direction with one starts by waiting to write it.
    for (Direction& d : dirs_) d.wait = d.prefix.empty() ? Wait::source : Wait::destination;
    update_interest();
    return 0;
}

int SpliceBridge::pipes_held() const {
    return (dirs_[a].pipe ? 1 : 0) + (dirs_[b].pipe ? 1 : 0);
}

std::size_t SpliceBridge::buffered() const {
    return (dirs_[a].buffer ? k_chunk : 0) + (dirs_[b].buffer ? k_chunk : 0);
}

void SpliceBridge::on_event(End end, int status, int events) {
    if (closing_ || reported_) return;
    if (status < 0) {
        // libuv stopped the handle (POLLERR): resynchronise the wrapper and
        // let the directions using this fd find the error in their calls.
        events = polls_[end].events();
        (void)polls_[end].watch(0);
    }
    Direction& reading = dirs_[end];            // end is its source
    Direction& writing = dirs_[end == a ? b : a];  // end is its destination
    if ((events & UV_READABLE) != 0 && !reading.done && reading.wait == Wait::source) pump(reading);
    if (error_ == 0 && (events & UV_WRITABLE) != 0 && !writing.done && writing.wait == Wait::destination) {
        pump(writing);
    }
    if (error_ != 0 || (dirs_[a].done && dirs_[b].done)) {
        reported_ = true;
        for (uv::Poll& p : polls_) (void)p.watch(0);
        if (on_finished_) on_finished_(error_);  // may close the bridge
        return;
    }
    update_interest();
}

void SpliceBridge::update_interest() {
    for (End end : {a, b}) {
        const Direction& reading = dirs_[end];
        const Direction& writing = dirs_[end == a ? b : a];
        int events = 0;
        if (!reading.done && reading.wait == Wait::source) events |= UV_READABLE;
        if (!writing.done && writing.wait == Wait::destination) events |= UV_WRITABLE;
        if (polls_[end].watch(events) != 0 && error_ == 0) error_ = -EBADF;
    }
}

void SpliceBridge::pump(Direction& d) {
    for (int i = 0; i < k_calls_per_wakeup; ++i) {
        if (step(d) != Step::moved) return;
    }
    // Budget spent: continue on the next loop turn, after the others.
    // Level-triggered polls fire again for the side still ready.
    d.wait = (d.in_pipe > 0 || d.head < d.tail || !d.prefix.empty()) ? Wait::destination : Wait::source;
}

SpliceBridge::Step SpliceBridge::step(Direction& d) {
    if (!d.prefix.empty()) return prefix_step(d);
    return d.copy ? copy_step(d) : splice_step(d);
}

void SpliceBridge::moved(Direction& d, std::size_t n) {
    d.bytes += n;
    last_activity_ = uv_now(loop_);
}

SpliceBridge::Step SpliceBridge::blocked(Direction& d, Wait wait) {
    d.wait = wait;
    return Step::blocked;
}

SpliceBridge::Step SpliceBridge::failed(int err) {
    if (error_ == 0) error_ = err;
    return Step::failed;
}

SpliceBridge::Step SpliceBridge::prefix_step(Direction& d) {
    ssize_t n = ::send(fds_[d.destination].get(), d.prefix.data(), d.prefix.size(), MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EINTR) return Step::moved;
        if (errno == EAGAIN) return blocked(d, Wait::destination);
        return failed(-errno);
    }
    d.prefix.erase(0, static_cast<std::size_t>(n));
    last_activity_ = uv_now(loop_);
    if (d.prefix.empty()) std::string().swap(d.prefix);
    return Step::moved;
}

// The source has ended and everything read from it is out: pass the EOF on.
SpliceBridge::Step SpliceBridge::end_source(Direction& d) {
    return_pipe(d);
    d.buffer.reset();
    d.done = true;
    (void)::shutdown(fds_[d.destination].get(), SHUT_WR);
    return Step::ended;
}

bool SpliceBridge::take_pipe(Direction& d) {
    if (pool_ == nullptr) return false;
    if (fd_gate_ && !fd_gate_(2)) return false;
    SplicePipe pipe;
    if (pool_->take(pipe) != 0) {
        if (fd_gate_) (void)fd_gate_(-2);
        return false;
    }
    d.pipe = std::move(pipe);
    return true;
}

void SpliceBridge::return_pipe(Direction& d) {
    if (!d.pipe) return;
    SplicePipe pipe = std::move(*d.pipe);
    d.pipe.reset();
    if (d.in_pipe == 0 && pool_ != nullptr) pool_->give_back(std::move(pipe));  // else it closes here
    d.in_pipe = 0;
    if (fd_gate_) (void)fd_gate_(-2);
}

SpliceBridge::Step SpliceBridge::splice_step(Direction& d) {
    constexpr unsigned k_flags = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
    if (d.in_pipe > 0) {
        ssize_t n = splice_(d.pipe->read.get(), fds_[d.destination].get(), d.in_pipe, k_flags);
        if (n > 0) {
            d.in_pipe -= static_cast<std::size_t>(n);
            moved(d, static_cast<std::size_t>(n));
            return Step::moved;
        }
        if (n < 0 && errno == EINTR) return Step::moved;
        if (n < 0 && errno == EAGAIN) return blocked(d, Wait::destination);
        return failed(n < 0 ? -errno : -EPIPE);
    }
    if (d.source_ended) return end_source(d);
    if (!d.pipe && !take_pipe(d)) {
        d.copy = true;  // until the source goes idle
        return Step::moved;
    }
    ssize_t n = splice_(fds_[d.source].get(), d.pipe->write.get(), PipePool::k_capacity, k_flags);
    if (n > 0) {
        d.in_pipe = static_cast<std::size_t>(n);
        return Step::moved;
    }
    if (n == 0) {
        d.source_ended = true;
        return Step::moved;
    }
    switch (errno) {
        case EINTR: return Step::moved;
        case EAGAIN:
            return_pipe(d);  // idle: an idle direction holds no pipe
            return blocked(d, Wait::source);
        case EINVAL:
        case ENOSYS:
            return_pipe(d);
            d.copy = d.splice_refused = true;
            return Step::moved;
        default: return failed(-errno);
    }
}

SpliceBridge::Step SpliceBridge::copy_step(Direction& d) {
    if (d.head < d.tail) {
        ssize_t n = ::send(fds_[d.destination].get(), d.buffer.get() + d.head, d.tail - d.head, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) return Step::moved;
            if (errno == EAGAIN) return blocked(d, Wait::destination);
            return failed(-errno);
        }
        d.head += static_cast<std::size_t>(n);
        moved(d, static_cast<std::size_t>(n));
        return Step::moved;
    }
    d.head = d.tail = 0;
    if (d.source_ended) return end_source(d);
    if (!d.buffer) d.buffer = std::make_unique<char[]>(k_chunk);
    ssize_t n = ::read(fds_[d.source].get(), d.buffer.get(), k_chunk);
    if (n > 0) {
        d.tail = static_cast<std::size_t>(n);
        return Step::moved;
    }
    if (n == 0) {
        d.source_ended = true;
        return Step::moved;
    }
    if (errno == EINTR) return Step::moved;
    if (errno == EAGAIN) {
        d.buffer.reset();                   // idle: no buffer either
        d.copy = d.splice_refused;          // try splicing again next time
        return blocked(d, Wait::source);
    }
    return failed(-errno);
}

void SpliceBridge::close(std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    on_closed_ = std::move(done);
    for (Direction& d : dirs_) {
        return_pipe(d);
        d.buffer.reset();
    }
    for (End end : {a, b}) {
        polls_[end].close([this, end] {
            fds_[end].reset();
            if (--open_handles_ == 0 && on_closed_) {
                auto cb = std::move(on_closed_);
                cb();  // may free the bridge
            }
        });
    }
}

}  // namespace sb::io
