// The fd budget's arithmetic and its one measurement of the fd table.
#include "server/fd_budget.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <algorithm>

namespace sb::server {

namespace {

// The usual default soft limit, for when getrlimit cannot say.
constexpr std::uint64_t k_fallback_limit = 1024;
constexpr std::uint64_t k_min_headroom = 64;
// What a reload binds and a spawn opens at once is a handful of fds, not a
// share of a large table: past this, headroom would only refuse clients.
constexpr std::uint64_t k_max_headroom = 4096;

}  // namespace

std::optional<std::uint64_t> count_open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return std::nullopt;
    std::uint64_t n = 0;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    // The directory's own fd was in the listing.
    return n > 0 ? n - 1 : 0;
}

FdBudget FdBudget::of_process() {
    rlimit rl{};
    std::uint64_t limit = k_fallback_limit;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) limit = rl.rlim_cur;
    return FdBudget(limit, count_open_fds().value_or(0));
}

FdBudget::FdBudget(std::uint64_t limit, std::uint64_t open_now)
    : limit_(limit), headroom_(headroom_for(limit)), base_(open_now) {}

std::uint64_t FdBudget::headroom_for(std::uint64_t limit) {
    return std::min(std::clamp(limit / 100, k_min_headroom, k_max_headroom), limit / 2);
}

void FdBudget::acquire_fd(int fd) {
    acquire(1);
    if (fd < 0) return;
    auto lowest_count = static_cast<std::uint64_t>(fd) + 1;
    if (in_use() < lowest_count) base_ += lowest_count - in_use();
}

bool FdBudget::measure() {
    auto open_now = count_open_fds();
    if (!open_now) return false;
    rebase(*open_now);
    return true;
}

void FdBudget::rebase(std::uint64_t open_now) {
    if (open_now >= reported_) {
        base_ = open_now - reported_;
    } else {
        // More reported than open: some closes went unreported. The table is
        // the truth; without the correction a pause could outlast its cause.
        base_ = 0;
        reported_ = open_now;
    }
}

}  // namespace sb::server
