// Pipes between the server and a child: the child's stdin, stdout, stderr.
#pragma once

#include <cstddef>
#include <cstdint>

#include "switchboard/fd.hpp"

namespace sb::io {

// Both ends are close-on-exec (the child gets its end through an fd
// mapping, which clears the flag on the copy). Only the server's end is
// non-blocking: the flag lives in the open file description, and a child
// handed a non-blocking stdin would see EAGAIN on its reads.
struct ChildPipe {
    Fd server;
    Fd child;
};

enum class PipeFlow : std::uint8_t { to_child, from_child };

// The capacity of the pipes a splice pump moves a connection through. The
// kernel's default (64 KiB) makes the child's reads and writes, and our
// splices, four times as many as this: 256 KiB nearly doubles what one
// connection moves per CPU second, and larger pipes add little.
inline constexpr std::size_t k_splice_pipe_capacity = 256 * 1024;

// 0, or a negative errno. The caller owns both fds. `capacity` (0: the
// kernel's default) is a wish: past the per-user pipe limits
// (/proc/sys/fs/pipe-user-pages-soft) the kernel keeps its default.
[[nodiscard]] int open_child_pipe(PipeFlow flow, ChildPipe& out, std::size_t capacity = 0);

}  // namespace sb::io
