// PROXY protocol headers that switchboard sends: the line (v1) or block
// (v2) a redirect writes first on its upstream connection so the upstream
// sees the real client (haproxy's doc/proxy-protocol.txt).
//
// Plain functions over addresses; no fds, no state.
#pragma once

#include <cstdint>
#include <string>

#include "switchboard/net/endpoint.hpp"

namespace sb::net {

// The 12 bytes every v2 header starts with.
inline constexpr char k_proxy_v2_signature[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                                  '\n', 'Q',  'U',  'I',  'T',  '\n'};

// "PROXY TCP4 src dst sport dport\r\n" (TCP6 for IPv6; an IPv4-mapped pair is
// written as TCP4), or "PROXY UNKNOWN\r\n" for UNIX clients and pairs of
// mixed families. `client` is the peer, `local` the address it connected to.
[[nodiscard]] std::string proxy_v1_header(const SockAddr& client, const SockAddr& local);

// The binary v2 header, command PROXY: family TCP over IPv4, IPv6 or UNIX
// stream (both 108-byte paths) after the client's family; UNSPEC (no
// addresses, the receiver then uses the connection's own) when the two
// addresses are of different families.
[[nodiscard]] std::string proxy_v2_header(const SockAddr& client, const SockAddr& local);

}  // namespace sb::net
