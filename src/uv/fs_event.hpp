// FsEvent: a uv_fs_event_t watching a directory (never a file: editors
// replace files by rename, which kills a watch on the file itself).
#pragma once

#include <string>

#include "uv/handle.hpp"

namespace sb::uv {

class FsEvent final : public Handle<uv_fs_event_t> {
public:
    using Callback = std::function<void(const char* name, int events, int status)>;

    FsEvent() = default;

    [[nodiscard]] int start(uv_loop_t* loop, const std::string& dir, Callback cb) {
        int rc = uv_fs_event_init(loop, &raw_);
        if (rc != 0) return rc;
        mark_initialized();
        callback_ = std::move(cb);
        return uv_fs_event_start(
            &raw_,
            [](uv_fs_event_t* h, const char* name, int events, int status) noexcept {
                auto* self = static_cast<FsEvent*>(h->data);
                if (self->callback_) self->callback_(name, events, status);
            },
            dir.c_str(), 0);
    }

private:
    Callback callback_;
};

}  // namespace sb::uv
