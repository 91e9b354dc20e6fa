// Handle<Raw>: one libuv handle held by value inside the object that owns it.
//
// The owner never copies or moves it, and may free the memory only after the
// close callback ran: close() takes the callback that says so. close() is
// idempotent, and on a handle whose init never succeeded it calls back at
// once without touching libuv (calling uv_close on such a handle is UB).
// Every trampoline libuv calls (here and in the handle classes) is
// noexcept and calls a callback only if one is set: nothing throws into
// libuv. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <utility>

namespace sb::uv {

template <typename Raw>
class Handle {
public:
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle(Handle&&) = delete;
    Handle& operator=(Handle&&) = delete;

    Raw* raw() { return &raw_; }
    [[nodiscard]] bool initialized() const { return initialized_; }
    [[nodiscard]] bool closing() const { return closing_; }
    [[nodiscard]] bool active() const {
        return initialized_ && !closing_ && uv_is_active(reinterpret_cast<const uv_handle_t*>(&raw_)) != 0;
    }

    // `done` runs once the handle is released (possibly right away).
    void close(std::function<void()> done = {}) {
        if (closing_) {
            return;  // the first close's callback stands
        }
        closing_ = true;
        if (!initialized_) {
            if (done) done();
            return;
        }
        on_closed_ = std::move(done);
        auto* h = reinterpret_cast<uv_handle_t*>(&raw_);
        h->data = this;
        uv_close(h, [](uv_handle_t* closed) noexcept {
            auto* self = static_cast<Handle*>(closed->data);
            auto cb = std::move(self->on_closed_);
            if (cb) cb();  // may free *self: touch nothing after this
        });
    }

    // Keeps the loop from waiting on this handle alone.
    void unref() { if (initialized_) uv_unref(reinterpret_cast<uv_handle_t*>(&raw_)); }

protected:
    Handle() = default;
    ~Handle() = default;
    void mark_initialized() {
        initialized_ = true;
        raw_.data = this;
    }

    Raw raw_{};

private:
    std::function<void()> on_closed_;
    bool initialized_ = false;
    bool closing_ = false;
};

}  // namespace sb::uv
