// The pipe pool (see pipe_pool.hpp).
#include "io/pipe_pool.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace sb::io {

int PipePool::take(SplicePipe& out) {
    if (!idle_.empty()) {
        out = std::move(idle_.back());
        idle_.pop_back();
        return 0;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return -errno;
    out.read.reset(fds[0]);
    out.write.reset(fds[1]);
    // A wish: past the per-user pipe limits the kernel keeps its default.
    (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(k_capacity));
    ++created_;
    return 0;
}

void PipePool::give_back(SplicePipe pipe) {
    if (idle_.size() < max_idle_ && pipe.read && pipe.write) idle_.push_back(std::move(pipe));
}  // otherwise `pipe` closes here

}  // namespace sb::io
