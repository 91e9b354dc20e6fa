// Loop: owns a uv_loop_t. Closing it checks that every handle was closed,
// which the tests assert (a handle left open is a leak).
#pragma once

#include <uv.h>

namespace sb::uv {

class Loop {
public:
    Loop() { initialized_ = uv_loop_init(&loop_) == 0; }
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;
    ~Loop() { (void)close(); }

    uv_loop_t* get() { return &loop_; }
    [[nodiscard]] bool ok() const { return initialized_; }
    int run(uv_run_mode mode = UV_RUN_DEFAULT) { return uv_run(&loop_, mode); }
    void stop() { uv_stop(&loop_); }

    // Runs the loop until the close callbacks of closed handles have run,
    // then closes it. Returns UV_EBUSY if a handle is still open.
    [[nodiscard]] int close() {
        if (!initialized_) return 0;
        uv_run(&loop_, UV_RUN_NOWAIT);
        int rc = uv_loop_close(&loop_);
        if (rc == 0) initialized_ = false;
        return rc;
    }

private:
    uv_loop_t loop_{};
    bool initialized_ = false;
};

}  // namespace sb::uv
