// Helpers for the tests of addresses: a socket address from a numeric host
// ("127.0.0.1" or "::1") and a port.
#pragma once

#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "switchboard/net/endpoint.hpp"

namespace sb::test {

inline net::SockAddr socket_address(const std::string& host, std::uint16_t port) {
    if (host.find(':') == std::string::npos) {
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        REQUIRE(inet_pton(AF_INET, host.c_str(), &sin.sin_addr) == 1);
        return net::SockAddr::from(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
    }
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(port);
    REQUIRE(inet_pton(AF_INET6, host.c_str(), &sin6.sin6_addr) == 1);
    return net::SockAddr::from(reinterpret_cast<const sockaddr*>(&sin6), sizeof sin6);
}

}  // namespace sb::test
