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
        return uv_signal_start(&raw_, [](uv_signal_t* s, int n) { static_cast<Signal*>(s->data)->callback_(n); },
                               signum);
    }

private:
    Callback callback_;
};

}  // namespace sb::uv
