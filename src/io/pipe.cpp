// Child pipes.
#include "io/pipe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace sb::io {

int open_child_pipe(PipeFlow flow, ChildPipe& out, std::size_t capacity) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    int read_end = fds[0];
    int write_end = fds[1];
    int server = flow == PipeFlow::to_child ? write_end : read_end;
    int child = flow == PipeFlow::to_child ? read_end : write_end;
    if (fcntl(server, F_SETFL, O_NONBLOCK) != 0) {
        int err = errno;
        close(read_end);
        close(write_end);
        return -err;
    }
    if (capacity != 0) (void)fcntl(server, F_SETPIPE_SZ, static_cast<int>(capacity));
    out.server = server;
    out.child = child;
    return 0;
}

}  // namespace sb::io
