// OwnAddresses: a datagram source is one of the server's own UDP listeners
// when it is a listener's exact address, or a listener's port on one of the
// host's addresses (loopback always; interfaces from a fake lookup here),
// for IPv4, IPv6 and v4-mapped sources alike.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "server/own_addresses.hpp"
#include "net_support.hpp"

using sb::net::IpAddress;
using sb::net::SockAddr;
using sb::server::OwnAddresses;

namespace {

SockAddr addr(const std::string& host, std::uint16_t port) { return sb::test::socket_address(host, port); }

IpAddress ip(const std::string& text) { return *IpAddress::parse(text); }

}  // namespace

TEST_CASE("own addresses: exact listener addresses, IPv4 and IPv6") {
    int lookups = 0;
    OwnAddresses own([&] {
        ++lookups;
        return std::vector<IpAddress>{};
    });
    CHECK_FALSE(own.contains(addr("127.0.0.1", 7), 0));  // no listeners yet
    own.set_listeners({addr("192.0.2.10", 7), addr("2001:db8::10", 19)});
    CHECK(own.contains(addr("192.0.2.10", 7), 0));
    CHECK(own.contains(addr("::ffff:192.0.2.10", 7), 0));  // the same, as a dual-stack socket sees it
    CHECK(own.contains(addr("2001:db8::10", 19), 0));
    CHECK_FALSE(own.contains(addr("192.0.2.10", 8), 0));    // a port that is not ours
    CHECK_FALSE(own.contains(addr("2001:db8::10", 7000), 0));
    CHECK(lookups == 0);  // exact matches and foreign ports need no lookup
    CHECK_FALSE(own.contains(addr("192.0.2.99", 7), 0));  // our port, another host
    CHECK(lookups == 1);
}

TEST_CASE("own addresses: a listener's port on a local address, for wildcard listeners") {
    std::vector<IpAddress> host{ip("192.0.2.1"), ip("2001:db8::1"), ip("fe80::1")};
    int lookups = 0;
    OwnAddresses own([&] {
        ++lookups;
        return host;
    });
    own.set_listeners({addr("::", 7), addr("0.0.0.0", 19)});
    CHECK(own.contains(addr("127.0.0.1", 7), 0));
    CHECK(own.contains(addr("127.0.0.2", 19), 0));   // all of 127.0.0.0/8
    CHECK(own.contains(addr("::1", 7), 0));
    CHECK(own.contains(addr("::ffff:127.0.0.1", 19), 0));
    CHECK(own.contains(addr("192.0.2.1", 19), 0));
    CHECK(own.contains(addr("2001:db8::1", 7), 0));
    CHECK(own.contains(addr("fe80::1", 19), 0));
    CHECK_FALSE(own.contains(addr("2001:db8::2", 7), 0));  // a client on the same network
    CHECK_FALSE(own.contains(addr("198.51.100.7", 19), 0));
    CHECK_FALSE(own.contains(addr("::1", 8), 0));  // local, but not one of our ports

    // The interfaces are looked up again only after a while, or after a reload.
    int before = lookups;
    host.push_back(ip("2001:db8::2"));
    CHECK_FALSE(own.contains(addr("2001:db8::2", 7), 1000));
    CHECK(own.contains(addr("2001:db8::2", 7), OwnAddresses::k_refresh_ms + 1));
    CHECK(lookups == before + 1);
    own.set_listeners({addr("::", 7)});
    host.pop_back();
    CHECK_FALSE(own.contains(addr("2001:db8::2", 7), OwnAddresses::k_refresh_ms + 2));
}

TEST_CASE("own addresses: the host's interfaces include loopback") {
    auto host = OwnAddresses::interface_addresses();
    bool loopback = false;
    for (const auto& a : host) loopback = loopback || a == ip("127.0.0.1");
    CHECK(loopback);
}
