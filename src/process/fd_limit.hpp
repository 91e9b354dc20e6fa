// The server's own RLIMIT_NOFILE, and the one its children get back.
//
// The server raises its soft limit to the hard limit at start (its fd
// budget is its capacity), but a child inherits whatever the server has,
// and programs that use select() break above 1024 fds. So the soft limit
// the process started with is remembered here, and every child gets it
// back unless its exec.rlimits sets "nofile" (systemd does the same). The
// limit is process-wide by nature, like the rlimit itself.
#pragma once

#include <sys/resource.h>

#include <optional>

namespace sb::process {

// Raises the soft RLIMIT_NOFILE to the hard limit, remembering the soft
// limit before it. Returns the soft limit now in force (0 when unknown).
rlim_t raise_fd_limit();

// The soft and hard limits a child should get when its configuration does
// not say: the starting soft limit and the current hard limit. nullopt
// when raise_fd_limit() changed nothing (the child inherits as it is).
struct FdLimit {
    rlim_t soft = 0;
    rlim_t hard = 0;
};
std::optional<FdLimit> child_fd_limit();

}  // namespace sb::process
