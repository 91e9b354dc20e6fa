// PipePool: the pipes that forwarded connections splice through, kept for
// reuse so a busy server does not create and destroy a pipe per burst.
//
// A direction of a forwarded connection takes a pipe when it has bytes to
// move and gives it back, empty, when it goes idle, so an idle connection
// holds no pipe. The pool keeps at most `max_idle` idle pipes and closes
// the rest. It owns the idle pipes' fds (they are not on any connection's
// fd lease: the fd budget's measured base counts them, and there are few).
// Owned by the server; loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "switchboard/fd.hpp"

namespace sb::io {

// Both ends non-blocking and close-on-exec.
struct SplicePipe {
    Fd read;
    Fd write;
};

class PipePool {
public:
    // Each splice moves up to a pipe's capacity; 256 KiB pipes move four
    // times what the kernel's default moves per call.
    static constexpr std::size_t k_capacity = 256 * 1024;

    explicit PipePool(std::size_t max_idle = 16) : max_idle_(max_idle) {}
    PipePool(const PipePool&) = delete;
    PipePool& operator=(const PipePool&) = delete;

    // An idle pipe, or a new one. 0, or a negative errno (EMFILE...).
    [[nodiscard]] int take(SplicePipe& out);
    // `pipe` must be empty. Kept if the pool has room, else closed.
    void give_back(SplicePipe pipe);

    [[nodiscard]] std::size_t idle() const { return idle_.size(); }
    [[nodiscard]] std::uint64_t created() const { return created_; }

private:
    std::size_t max_idle_;
    std::vector<SplicePipe> idle_;
    std::uint64_t created_ = 0;
};

}  // namespace sb::io
