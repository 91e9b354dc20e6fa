// Built-in services over UDP: each datagram is answered on its own, with no
// state kept between them (RFC 862/863/864/867/868, UDP variants).
#pragma once

#include <cstdint>
#include <functional>

#include "switchboard/config.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::services {

struct DatagramStats {
    std::uint64_t received = 0;
    std::uint64_t answered = 0;
    std::uint64_t refused = 0;  // the admit predicate said no
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
};

// Whether a datagram from `peer` may be answered (reflection, allow/deny,
// rate: the caller's policy, which also counts and logs what it refuses).
using AdmitDatagram = std::function<bool(const net::SockAddr& peer)>;

// True when a reply to `peer` could be used for reflection or amplification:
// a privileged source port (another server's, e.g. chargen to echo) or a
// broadcast/multicast source.
[[nodiscard]] bool looks_like_reflection(const net::SockAddr& peer);

// Reads and answers up to `budget` datagrams waiting on `fd`.
void serve_datagrams(int fd, config::Builtin kind, const AdmitDatagram& admit, DatagramStats& stats,
                     int budget = 64);

}  // namespace sb::services
