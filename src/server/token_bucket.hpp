// TokenBucket: the state of one rate limit (a service's, or one source's).
//
// The bucket holds up to `burst` tokens and gains `per_second` of them per
// second; each admitted event takes one. Time comes in as a millisecond
// count (uv_now() on the loop), never read here, so tests drive it with a
// fake clock.
//
// The rate itself is not stored: every per-source bucket of a service shares
// that service's configured rate, so it is passed to each call. That keeps a
// per-source entry small, and a reload that changes the rate changes it for
// every bucket at once. A plain value; no resources.
#pragma once

#include <algorithm>
#include <cstdint>

#include "switchboard/config.hpp"

namespace sb::server {

class TokenBucket {
public:
    // An unlimited rate needs no bucket; this one is full at `now`.
    TokenBucket(const config::Rate& rate, std::uint64_t now) : tokens_(capacity(rate)), last_(now) {}

    // True when a token is available at `now` (after refilling). Takes nothing,
    // so several limits can be checked before any of them is charged.
    [[nodiscard]] bool has_token(const config::Rate& rate, std::uint64_t now) {
        if (!rate.enabled()) return true;
        refill(rate, now);
        return tokens_ >= 1.0 - k_epsilon;
    }

    // Takes one token; call after has_token() said yes.
    void take(const config::Rate& rate) {
        if (rate.enabled()) tokens_ = std::max(0.0, tokens_ - 1.0);
    }

    // has_token() and take() in one.
    [[nodiscard]] bool try_take(const config::Rate& rate, std::uint64_t now) {
        if (!has_token(rate, now)) return false;
        take(rate);
        return true;
    }

    // True when the bucket will have refilled completely by `now`: it then
    // remembers nothing a fresh bucket would not, and may be forgotten.
    [[nodiscard]] bool full(const config::Rate& rate, std::uint64_t now) const {
        return !rate.enabled() || level(rate, now) >= capacity(rate) - k_epsilon;
    }

    // The tokens available at `now` (fractional), for tests and the state dump.
    [[nodiscard]] double level(const config::Rate& rate, std::uint64_t now) const {
        if (!rate.enabled()) return capacity(rate);
        // A clock that went backwards refills nothing rather than wrapping.
        std::uint64_t elapsed = now > last_ ? now - last_ : 0;
        return std::min(capacity(rate), tokens_ + static_cast<double>(elapsed) * rate.per_second / 1000.0);
    }

private:
    // Refills add fractions of a token: let rounding not cost a whole millisecond.
    static constexpr double k_epsilon = 1e-9;

    // A burst below one token would never admit anything; the loader forbids
    // it, and this keeps a hand-made Rate from locking a service out.
    static double capacity(const config::Rate& rate) { return std::max(1.0, rate.burst); }

    void refill(const config::Rate& rate, std::uint64_t now) {
        tokens_ = level(rate, now);
        last_ = std::max(last_, now);
    }

    double tokens_;
    std::uint64_t last_;
};

}  // namespace sb::server
