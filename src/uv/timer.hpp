// Timer: a uv_timer_t with a callback.
#pragma once

#include <chrono>

#include "uv/handle.hpp"

namespace sb::uv {

class Timer final : public Handle<uv_timer_t> {
public:
    using Callback = std::function<void()>;

    Timer() = default;

    [[nodiscard]] int init(uv_loop_t* loop) {
        int rc = uv_timer_init(loop, &raw_);
        if (rc == 0) mark_initialized();
        return rc;
    }

    void on_fire(Callback cb) { callback_ = std::move(cb); }

    // Fires after `timeout`, then every `repeat` if non-zero. Restarting re-arms.
    void start(std::chrono::milliseconds timeout, std::chrono::milliseconds repeat = {}) {
        if (!initialized() || closing()) return;
        auto fire = [](uv_timer_t* t) noexcept {
            auto* self = static_cast<Timer*>(t->data);
            if (self->callback_) self->callback_();
        };
        uv_timer_start(&raw_, fire, static_cast<std::uint64_t>(timeout.count()),
                       static_cast<std::uint64_t>(repeat.count()));
    }
    void stop() {
        if (initialized() && !closing()) uv_timer_stop(&raw_);
    }

private:
    Callback callback_;
};

}  // namespace sb::uv
