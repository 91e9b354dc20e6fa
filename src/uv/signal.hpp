// Signal: a uv_signal_t. Install at start and keep for the life of the
// process: stopping the last handle for a signal restores SIG_DFL.
#pragma once

#include "uv/handle.hpp"

namespace sb::uv {

class Signal final : public Handle<uv_signal_t> {
public:
    using Callback = std::function<void(int signum)>;

    Signal() = default;

    [[nodiscard]] int start(uv_loop_t* loop, int signum, Callback cb) {
        int rc = uv_signal_init(loop, &raw_);
        if (rc != 0) return rc;
        mark_initialized();
        callback_ = std::move(cb);
        auto fire = [](uv_signal_t* s, int n) noexcept {
            auto* self = static_cast<Signal*>(s->data);
            if (self->callback_) self->callback_(n);
        };
        return uv_signal_start(&raw_, fire, signum);
    }

private:
    Callback callback_;
};

}  // namespace sb::uv
