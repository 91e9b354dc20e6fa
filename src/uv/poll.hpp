// Poll: a uv_poll_t watching a file descriptor it does not own.
//
// switchboard moves bytes with its own read/write/splice/accept4 calls, so
// every socket, pipe and pidfd is watched through a Poll. The fd must stay
// open until the close callback has run.
#pragma once

#include "uv/handle.hpp"

namespace sb::uv {

class Poll final : public Handle<uv_poll_t> {
public:
    // status < 0 is a libuv error, after which libuv has stopped the handle
    // (see stopped_by_error); events is a mask of UV_READABLE, UV_WRITABLE, UV_DISCONNECT.
    using Callback = std::function<void(int status, int events)>;

    Poll() = default;

    [[nodiscard]] int init(uv_loop_t* loop, int fd) {
        int rc = uv_poll_init(loop, &raw_, fd);
        if (rc == 0) {
            mark_initialized();
            fd_ = fd;
        }
        return rc;
    }

    void on_event(Callback cb) { callback_ = std::move(cb); }

    // Watches exactly `events` from now on; 0 stops watching.
    [[nodiscard]] int watch(int events) {
        if (!initialized() || closing()) return UV_EBADF;
        if (events == events_) return 0;
        int rc = events == 0 ? uv_poll_stop(&raw_)
                             : uv_poll_start(&raw_, events, [](uv_poll_t* p, int status, int ev) noexcept {
                                   auto* self = static_cast<Poll*>(p->data);
                                   if (self->callback_) self->callback_(status, ev);
                               });
        if (rc == 0) events_ = events;
        return rc;
    }
    // After an error status libuv has stopped the handle: an owner that
    // means to watch again says so first, so that watch() really starts it
    // (an owner that would only meet the same error again does not).
    void stopped_by_error() { events_ = 0; }
    [[nodiscard]] int events() const { return events_; }
    [[nodiscard]] int fd() const { return fd_; }

private:
    Callback callback_;
    int fd_ = -1;
    int events_ = 0;
};

}  // namespace sb::uv
