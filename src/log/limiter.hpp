// LogLimiter: one stream of similar log lines held to a rate — the first
// few lines of a window are written, the rest are counted, and the caller
// writes one summary line for them once the window is over. A plain value
// with an injected clock (milliseconds); used for reject lines (server/)
// and children's stderr lines (child_stderr.hpp). Loop thread only.
#pragma once

#include <cstdint>

namespace sb::log {

class LogLimiter {
public:
    static constexpr std::uint32_t k_default_lines = 5;
    static constexpr std::uint64_t k_default_interval_ms = 10'000;

    // At most `lines` lines per `interval_ms` window.
    explicit LogLimiter(std::uint32_t lines = k_default_lines, std::uint64_t interval_ms = k_default_interval_ms)
        : lines_(lines), interval_(interval_ms) {}

    struct Verdict {
        bool write = false;            // write this event's line
        std::uint64_t suppressed = 0;  // first write a summary of this many dropped events (0: none)
    };

    // One event at `now`.
    [[nodiscard]] Verdict note(std::uint64_t now);

    // From a periodic timer: the number of events dropped in a window that
    // is over by `now` (0 when none), so a flood that stops still gets its
    // summary line. The count is reported once.
    [[nodiscard]] std::uint64_t take_expired(std::uint64_t now);

    [[nodiscard]] std::uint64_t suppressed() const { return suppressed_; }
    // No window is open, or the open one is over with nothing held back:
    // forgetting this limiter loses nothing.
    [[nodiscard]] bool idle(std::uint64_t now) const { return !open_ || (window_over(now) && suppressed_ == 0); }

private:
    [[nodiscard]] bool window_over(std::uint64_t now) const { return !open_ || now - window_start_ >= interval_; }

    std::uint32_t lines_;
    std::uint64_t interval_;
    std::uint64_t window_start_ = 0;
    std::uint32_t written_ = 0;
    std::uint64_t suppressed_ = 0;
    bool open_ = false;  // a window has started and not yet been closed
};

}  // namespace sb::log
