// Helpers for the tests of addresses and sockets: a socket address from a
// numeric host ("127.0.0.1" or "::1") and a port; a connected loopback TCP
// pair.
#pragma once

#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
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

// A connected TCP pair over loopback: [0] accepted, non-blocking (the side
// under test), [1] the connecting end, blocking.
inline std::array<int, 2> loopback_tcp_pair() {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listener >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    int connecting = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(::connect(connecting, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    int accepted = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    REQUIRE(accepted >= 0);
    ::close(listener);
    return {accepted, connecting};
}

}  // namespace sb::test
