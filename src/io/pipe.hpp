// Pipes between the server and a child: the child's stdin, stdout, stderr.
#pragma once

#include <cstdint>

namespace sb::io {

// Both ends are close-on-exec (the child gets its end through an fd
// mapping, which clears the flag on the copy). Only the server's end is
// non-blocking: the flag lives in the open file description, and a child
// handed a non-blocking stdin would see EAGAIN on its reads.
struct ChildPipe {
    int server = -1;
    int child = -1;
};

enum class PipeFlow : std::uint8_t { to_child, from_child };

// 0, or a negative errno. The caller owns both fds.
[[nodiscard]] int open_child_pipe(PipeFlow flow, ChildPipe& out);

}  // namespace sb::io
