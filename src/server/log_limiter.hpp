// Rate limits on the log itself, so a flood of rejections cannot flood the
// log: the first few similar lines of a window are written, the rest are
// counted, and one summary line ("suppressed K similar messages") follows
// when the window is over.
//
// LogLimiter (log/limiter.hpp) is one stream of similar lines. RejectLog
// is the one the server uses: one LogLimiter per reject
// reason of a service, writing through log::. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "log/limiter.hpp"
#include "server/reject_reason.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::server {

using LogLimiter = log::LogLimiter;

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
