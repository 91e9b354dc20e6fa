// Windows of at most N lines, and the summary that follows a busy one.
#include "server/log_limiter.hpp"

#include <string>

#include "log/log.hpp"

namespace sb::server {

namespace {

void write_summary(std::string_view service, RejectReason reason, std::uint64_t suppressed) {
    std::string detail = "suppressed " + std::to_string(suppressed) + " similar messages";
    log::warning("reject-suppressed", {{"service", service},
                                       {"reason", reject_reason_name(reason)},
                                       {"suppressed", static_cast<unsigned long long>(suppressed)},
                                       {"detail", detail}});
}

}  // namespace

RejectLog::RejectLog(std::uint32_t lines, std::uint64_t interval_ms) {
    limiters_.fill(LogLimiter(lines, interval_ms));
}

void RejectLog::rejected(std::string_view service, const net::SockAddr& peer, RejectReason reason,
                         std::uint64_t now) {
    auto verdict = limiters_[static_cast<std::size_t>(reason)].note(now);
    if (verdict.suppressed != 0) write_summary(service, reason, verdict.suppressed);
    if (verdict.write) {
        log::info("reject", {{"service", service}, {"peer", peer.to_string()}, {"reason", reject_reason_name(reason)}});
    }
}

void RejectLog::flush(std::string_view service, std::uint64_t now) {
    for (std::size_t i = 0; i < limiters_.size(); ++i) {
        if (std::uint64_t n = limiters_[i].take_expired(now); n != 0) {
            write_summary(service, static_cast<RejectReason>(i), n);
        }
    }
}

}  // namespace sb::server
