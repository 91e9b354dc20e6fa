// IpHash: a seeded hash of a peer address for the tables admission keeps
// per source. Clients choose their addresses, so each table draws a seed of
// its own and they cannot aim them all at one bucket. A plain value.
#pragma once

#include <cstddef>
#include <cstdint>

#include "switchboard/net/cidr.hpp"

namespace sb::server {

struct IpHash {
    std::uint64_t seed = 0;
    std::size_t operator()(const net::IpAddress& ip) const;

    // A random seed (getrandom), or, before the kernel has entropy, one
    // derived from `table`'s address.
    static IpHash seeded(const void* table);
};

}  // namespace sb::server
