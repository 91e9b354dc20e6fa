// The server's RLIMIT_NOFILE and its children's (see fd_limit.hpp).
#include "process/fd_limit.hpp"

namespace sb::process {
namespace {

std::optional<FdLimit>& saved() {
    static std::optional<FdLimit> limit;
    return limit;
}

}  // namespace

rlim_t raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        const rlim_t starting = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &rl) == 0) saved() = FdLimit{starting, rl.rlim_max};
        (void)::getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}

std::optional<FdLimit> child_fd_limit() { return saved(); }

}  // namespace sb::process
