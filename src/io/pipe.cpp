// Child pipes.
#include "io/pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace sb::io {

int open_child_pipe(PipeFlow flow, ChildPipe& out, std::size_t capacity) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    Fd read_end(fds[0]);
    Fd write_end(fds[1]);
    Fd& server = flow == PipeFlow::to_child ? write_end : read_end;
    Fd& child = flow == PipeFlow::to_child ? read_end : write_end;
    if (fcntl(server.get(), F_SETFL, O_NONBLOCK) != 0) return -errno;
    if (capacity != 0) (void)fcntl(server.get(), F_SETPIPE_SZ, static_cast<int>(capacity));
    out.server = std::move(server);
    out.child = std::move(child);
    return 0;
}

}  // namespace sb::io
