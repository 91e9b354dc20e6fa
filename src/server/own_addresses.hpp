// OwnAddresses: whether a datagram's source is one of the server's own UDP
// listeners, so that no built-in ever answers another (or itself): two
// services answering each other would loop forever on one forged datagram.
//
// A source is ours when it is the exact address of a UDP listener, or when
// its port is a UDP listener's port and its address is one of this host's
// (loopback, or an interface address: a wildcard listener answers from any
// of them). The host's addresses come from getifaddrs(), looked up again at
// most every k_refresh_ms and only when a source's port is one of ours, so
// the common datagram costs one lookup in a small set. Owned by the Server,
// rebuilt on every apply; loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_set>
#include <vector>

#include "switchboard/net/cidr.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::server {

class OwnAddresses {
public:
    // Where the host's addresses come from (getifaddrs by default; tests
    // give their own).
    using HostAddresses = std::function<std::vector<net::IpAddress>()>;
    static constexpr std::uint64_t k_refresh_ms = 5000;

    OwnAddresses();
    explicit OwnAddresses(HostAddresses host_addresses);

    // The bound addresses (getsockname) of every UDP listener. The host's
    // addresses are looked up again on the next match.
    void set_listeners(const std::vector<net::SockAddr>& bound);

    // True when `source` is one of ours (see above). `now` in milliseconds.
    [[nodiscard]] bool contains(const net::SockAddr& source, std::uint64_t now);

    // This host's addresses, from getifaddrs() (empty if it fails).
    static std::vector<net::IpAddress> interface_addresses();

private:
    struct Bound {
        net::IpAddress address;
        std::uint16_t port = 0;
    };
    [[nodiscard]] bool is_host_address(const net::IpAddress& ip, std::uint64_t now);

    HostAddresses lookup_;
    std::vector<Bound> bound_;
    std::unordered_set<std::uint16_t> ports_;
    std::vector<net::IpAddress> host_;
    std::uint64_t looked_up_at_ = 0;
    bool looked_up_ = false;
};

}  // namespace sb::server
