// Rate limits on the log itself, so a flood of rejections cannot flood the
// log: the first few similar lines of a window are written, the rest are
// counted, and one summary line ("suppressed K similar messages") follows
// when the window is over.
//
// LogLimiter is one stream of similar lines, a plain value with an injected
// clock. RejectLog is the one the server uses: one LogLimiter per reject
// reason of a service, writing through log::. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "server/reject_reason.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::server {

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

private:
    [[nodiscard]] bool window_over(std::uint64_t now) const { return !open_ || now - window_start_ >= interval_; }

    std::uint32_t lines_;
    std::uint64_t interval_;
    std::uint64_t window_start_ = 0;
    std::uint32_t written_ = 0;
    std::uint64_t suppressed_ = 0;
    bool open_ = false;  // a window has started and not yet been closed
};

// The reject lines of one service: "reject" lines, limited per reason, and
// "reject-suppressed" summaries.
class RejectLog {
public:
    explicit RejectLog(std::uint32_t lines = LogLimiter::k_default_lines,
                       std::uint64_t interval_ms = LogLimiter::k_default_interval_ms);

    void rejected(std::string_view service, const net::SockAddr& peer, RejectReason reason, std::uint64_t now);
    // Writes the summaries of windows that are over (call from a periodic timer).
    void flush(std::string_view service, std::uint64_t now);

private:
    std::array<LogLimiter, k_reject_reasons> limiters_;
};

}  // namespace sb::server
