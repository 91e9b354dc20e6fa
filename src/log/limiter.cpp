// Windows of at most N lines, and the count of those held back.
#include "log/limiter.hpp"

namespace sb::log {

LogLimiter::Verdict LogLimiter::note(std::uint64_t now) {
    Verdict verdict;
    if (window_over(now)) {
        verdict.suppressed = suppressed_;
        suppressed_ = 0;
        written_ = 0;
        window_start_ = now;
        open_ = true;
    }
    if (written_ < lines_) {
        ++written_;
        verdict.write = true;
    } else {
        ++suppressed_;
    }
    return verdict;
}

std::uint64_t LogLimiter::take_expired(std::uint64_t now) {
    if (!open_ || !window_over(now)) return 0;
    std::uint64_t n = suppressed_;
    suppressed_ = 0;
    written_ = 0;
    open_ = false;
    return n;
}

}  // namespace sb::log
