// RejectReason: why a connection or a datagram was refused, the key of the
// rejection counters, the log lines and the metrics. A plain enum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sb::server {

enum class RejectReason : std::uint8_t {
    denied,           // allow/deny lists or peer credentials
    max_connections,  // per service or global, on_limit "reject"
    per_source,
    rate,             // rate or source_rate
    max_children,
    fd_budget,        // the server is keeping its last fds for children and reloads
    reflection,       // UDP source that looks like reflection
    own_address,      // UDP source that is one of the server's own listeners
    proxy_untrusted,  // a PROXY protocol listener's peer is not in proxy_protocol.trusted
    proxy_header,     // no valid PROXY header in time (malformed, incomplete, closed)
    count_
};
inline constexpr std::size_t k_reject_reasons = static_cast<std::size_t>(RejectReason::count_);

constexpr std::string_view reject_reason_name(RejectReason reason) {
    switch (reason) {
        case RejectReason::denied: return "denied";
        case RejectReason::max_connections: return "max_connections";
        case RejectReason::per_source: return "per_source";
        case RejectReason::rate: return "rate";
        case RejectReason::max_children: return "max_children";
        case RejectReason::fd_budget: return "fd_budget";
        case RejectReason::reflection: return "reflection";
        case RejectReason::own_address: return "own_address";
        case RejectReason::proxy_untrusted: return "proxy_untrusted";
        case RejectReason::proxy_header: return "proxy_header";
        case RejectReason::count_: break;
    }
    return "unknown";
}

}  // namespace sb::server
