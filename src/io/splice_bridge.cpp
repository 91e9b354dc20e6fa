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

int SpliceBridge::start(uv_loop_t* loop, Fd end_a, Fd end_b, Setup setup, Owner& owner) {
    fds_[a] = std::move(end_a);
    fds_[b] = std::move(end_b);
    pool_ = setup.pool;
    owner_ = &owner;
    splice_ = setup.splice != nullptr ? setup.splice : real_splice;
    // The b → a direction writes to a.
    if (!setup.prefix_to_a.empty()) dirs_[b].prefix = std::make_unique<std::string>(std::move(setup.prefix_to_a));
    if (!setup.prefix_to_b.empty()) dirs_[a].prefix = std::make_unique<std::string>(std::move(setup.prefix_to_b));
    last_activity_ = uv_now(loop);
    for (End end : {a, b}) {
        if (int rc = uv_poll_init(loop, &polls_[end], fds_[end].get()); rc != 0) return rc;
        polls_[end].data = this;
        ++open_handles_;
    }
    // Prefixes first: a direction with one starts by waiting to write it.
    for (Direction& d : dirs_) d.wait = d.prefix ? Wait::destination : Wait::source;
    update_interest();
    return 0;
}

int SpliceBridge::pipes_held() const {
    return (dirs_[a].pipe.read ? 1 : 0) + (dirs_[b].pipe.read ? 1 : 0);
}

std::size_t SpliceBridge::buffered() const {
    return (dirs_[a].buffer ? k_chunk : 0) + (dirs_[b].buffer ? k_chunk : 0);
}

void SpliceBridge::on_poll(uv_poll_t* handle, int status, int events) noexcept {
    auto* self = static_cast<SpliceBridge*>(handle->data);
    self->on_event(handle == &self->polls_[a] ? a : b, status, events);
}

int SpliceBridge::watch(End end, int events) {
    if (closing_ || end >= open_handles_) return UV_EBADF;  // never initialised, or closing
    if (events == watching_[end]) return 0;
    int rc = events == 0 ? uv_poll_stop(&polls_[end]) : uv_poll_start(&polls_[end], events, &SpliceBridge::on_poll);
    if (rc == 0) watching_[end] = static_cast<std::uint8_t>(events);
    return rc;
}

void SpliceBridge::on_event(End end, int status, int events) {
    if (closing_ || reported_) return;
    if (status < 0) {
        // libuv stopped the handle (POLLERR): resynchronise, and let the
        // directions using this fd find the error in their calls.
        events = watching_[end];
        watching_[end] = 0;
    }
    Direction& reading = dirs_[end];            // end is its source
    Direction& writing = dirs_[end == a ? b : a];  // end is its destination
    if ((events & UV_READABLE) != 0 && !reading.done && reading.wait == Wait::source) pump(reading);
    if (error_ == 0 && (events & UV_WRITABLE) != 0 && !writing.done && writing.wait == Wait::destination) {
        pump(writing);
    }
    if (error_ != 0 || (dirs_[a].done && dirs_[b].done)) {
        reported_ = true;
        for (End e : {a, b}) (void)watch(e, 0);
        owner_->bridge_finished(error_);  // may close the bridge
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
        if (watch(end, events) != 0 && error_ == 0) error_ = -EBADF;
    }
}

void SpliceBridge::pump(Direction& d) {
    for (int i = 0; i < k_calls_per_wakeup; ++i) {
        if (step(d) != Step::moved) return;
    }
    // Budget spent: continue on the next loop turn, after the others.
    // Level-triggered polls fire again for the side still ready.
    d.wait = (d.in_pipe > 0 || d.head < d.tail || d.prefix) ? Wait::destination : Wait::source;
}

SpliceBridge::Step SpliceBridge::step(Direction& d) {
    if (d.prefix) return prefix_step(d);
    return d.copy ? copy_step(d) : splice_step(d);
}

void SpliceBridge::moved(Direction& d, std::size_t n) {
    d.bytes += n;
    last_activity_ = uv_now(polls_[d.destination].loop);
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
    std::string& prefix = *d.prefix;
    ssize_t n = ::send(fds_[d.destination].get(), prefix.data(), prefix.size(), MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EINTR) return Step::moved;
        if (errno == EAGAIN) return blocked(d, Wait::destination);
        return failed(-errno);
    }
    prefix.erase(0, static_cast<std::size_t>(n));
    last_activity_ = uv_now(polls_[d.destination].loop);
    if (prefix.empty()) d.prefix.reset();
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
    if (!owner_->bridge_fds_changed(2)) return false;
    if (pool_->take(d.pipe) != 0) {
        (void)owner_->bridge_fds_changed(-2);
        return false;
    }
    return true;
}

void SpliceBridge::return_pipe(Direction& d) {
    if (!d.pipe.read) return;
    SplicePipe pipe = std::move(d.pipe);
    d.pipe = {};
    if (d.in_pipe == 0 && pool_ != nullptr) pool_->give_back(std::move(pipe));  // else it closes here
    d.in_pipe = 0;
    (void)owner_->bridge_fds_changed(-2);
}

SpliceBridge::Step SpliceBridge::splice_step(Direction& d) {
    constexpr unsigned k_flags = SPLICE_F_NONBLOCK | SPLICE_F_MOVE;
    if (d.in_pipe > 0) {
        ssize_t n = splice_(d.pipe.read.get(), fds_[d.destination].get(), d.in_pipe, k_flags);
        if (n > 0) {
            d.in_pipe -= static_cast<std::uint32_t>(n);
            moved(d, static_cast<std::size_t>(n));
            return Step::moved;
        }
        if (n < 0 && errno == EINTR) return Step::moved;
        if (n < 0 && errno == EAGAIN) return blocked(d, Wait::destination);
        return failed(n < 0 ? -errno : -EPIPE);
    }
    if (d.source_ended) return end_source(d);
    if (!d.pipe.read && !take_pipe(d)) {
        d.copy = true;  // until the source goes idle
        return Step::moved;
    }
    ssize_t n = splice_(fds_[d.source].get(), d.pipe.write.get(), PipePool::k_capacity, k_flags);
    if (n > 0) {
        d.in_pipe = static_cast<std::uint32_t>(n);
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
        d.head += static_cast<std::uint32_t>(n);
        moved(d, static_cast<std::size_t>(n));
        return Step::moved;
    }
    d.head = d.tail = 0;
    if (d.source_ended) return end_source(d);
    if (!d.buffer) d.buffer = std::make_unique<char[]>(k_chunk);
    ssize_t n = ::read(fds_[d.source].get(), d.buffer.get(), k_chunk);
    if (n > 0) {
        d.tail = static_cast<std::uint32_t>(n);
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

void SpliceBridge::close() {
    if (closing_) return;
    closing_ = true;
    for (Direction& d : dirs_) {
        return_pipe(d);
        d.buffer.reset();
    }
    if (open_handles_ == 0) {
        if (owner_ != nullptr) owner_->bridge_closed();  // may free the bridge
        return;
    }
    // Only the first open_handles_ ends were initialised (a, then b).
    for (int end = open_handles_ - 1; end >= 0; --end) {
        uv_close(reinterpret_cast<uv_handle_t*>(&polls_[end]), &SpliceBridge::on_poll_closed);
    }
}

void SpliceBridge::on_poll_closed(uv_handle_t* handle) noexcept {
    auto* self = static_cast<SpliceBridge*>(handle->data);
    End end = handle == reinterpret_cast<uv_handle_t*>(&self->polls_[a]) ? a : b;
    self->fds_[end].reset();  // the fd stays open until its poll is closed
    if (--self->open_handles_ == 0) self->owner_->bridge_closed();  // may free the bridge
}

}  // namespace sb::io
