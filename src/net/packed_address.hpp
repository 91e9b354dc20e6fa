// PackedAddress: a socket address as a long-lived record keeps it.
//
// A SockAddr reserves sockaddr_storage (128 bytes) for any family. A
// connection record lives as long as its client and holds the client's
// address, so it keeps a PackedAddress instead: an address that fits a
// sockaddr_in6 (every IPv4 and IPv6 peer, an unnamed UNIX peer, a short
// UNIX name) inline, anything longer (a UNIX peer bound to a long path) on
// the heap. get() gives the same SockAddr back, byte for byte.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "switchboard/net/endpoint.hpp"

namespace sb::net {

class PackedAddress {
public:
    PackedAddress() = default;
    explicit PackedAddress(const SockAddr& address);

    [[nodiscard]] SockAddr get() const;
    [[nodiscard]] std::string to_string() const { return get().to_string(); }
    // True when the address is held inline (no allocation).
    [[nodiscard]] bool packed() const { return long_ == nullptr; }

private:
    union Inline {
        sockaddr_in6 in6;
        sockaddr_in in;
        sockaddr raw;
    };
    Inline inline_{};
    socklen_t length_ = 0;
    std::unique_ptr<SockAddr> long_;  // only for an address longer than Inline
};

}  // namespace sb::net
