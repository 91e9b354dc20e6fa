// SourceBuckets: a rate limit per source address in a table of fixed size,
// for datagrams (UDP built-ins answer each source at a bounded rate).
//
// Datagram sources cost nothing to forge, so the table never grows: it has
// k_slots entries, allocated on the first datagram, in sets of k_ways; a
// source new to a full set takes the slot of the one seen longest ago,
// which then comes back (if ever) with a full bucket. Memory is the same
// for one source or a million forged ones. Owned by a ServiceAdmission;
// a plain object, loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/ip_hash.hpp"
#include "server/token_bucket.hpp"
#include "switchboard/config.hpp"
#include "switchboard/net/cidr.hpp"

namespace sb::server {

class SourceBuckets {
public:
    static constexpr std::size_t k_slots = 1024;
    static constexpr std::size_t k_ways = 4;

    SourceBuckets();

    // True when `source` has a token at `now` under `rate` (after refill);
    // takes nothing, so the service's own rate can be checked first.
    [[nodiscard]] bool has_token(const net::IpAddress& source, const config::Rate& rate, std::uint64_t now);
    // Takes the token has_token() found for `source`.
    void take(const net::IpAddress& source, const config::Rate& rate, std::uint64_t now);

    // Sources remembered now (at most k_slots).
    [[nodiscard]] std::size_t size() const;
    // Forgets every source (the rate was turned off).
    void clear() { slots_.clear(); }

private:
    struct Slot {
        net::IpAddress source;
        TokenBucket bucket{config::Rate{}, 0};
        std::uint64_t last_seen = 0;
        bool used = false;
    };
    Slot& slot_for(const net::IpAddress& source, const config::Rate& rate, std::uint64_t now);

    std::vector<Slot> slots_;  // empty until the first datagram
    IpHash hash_;
};

}  // namespace sb::server
