// PassedSockets with real sockets at the fds systemd would use: matched by
// kind and bound address; a socket named (LISTEN_FDNAMES) after a service
// is that service's alone, and is never taken by another at its address.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "server/socket_activation.hpp"

using sb::server::PassedSockets;

namespace {

// A TCP socket listening on 127.0.0.1 at a port the kernel picks, moved to
// fd `at`; returns its port.
std::uint16_t listen_at(int at) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
    REQUIRE(::listen(fd, 8) == 0);
    socklen_t len = sizeof sin;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) == 0);
    REQUIRE(::dup2(fd, at) == at);
    ::close(fd);
    return ntohs(sin.sin_port);
}

sb::net::Listen tcp(std::uint16_t port) {
    sb::net::Listen l;
    l.endpoint.transport = sb::net::Transport::tcp;
    l.endpoint.host = "127.0.0.1";
    l.endpoint.port = port;
    return l;
}

// Fds far above what the test runner holds, so dup2 replaces nothing of its own.
constexpr int k_first = 900;

}  // namespace

TEST_CASE("passed sockets: a name that is a service's reserves the socket for that service") {
    std::uint16_t echo = listen_at(k_first);
    std::uint16_t daytime = listen_at(k_first + 1);
    std::uint16_t other = listen_at(k_first + 2);
    auto passed = PassedSockets::from_fds(k_first, 3, {"echo", "echo", "sockets.socket"});
    REQUIRE(passed.sockets().size() == 3);
    passed.expect_services({{"echo", {"tcp://127.0.0.1:" + std::to_string(echo)}},
                            {"daytime", {"tcp://127.0.0.1:" + std::to_string(daytime)}}});

    sb::net::BoundSocket bound;
    // The socket at daytime's address is named "echo": daytime does not get it.
    CHECK_FALSE(passed.take(tcp(daytime), "daytime", bound));
    // echo gets its own, by name and address.
    REQUIRE(passed.take(tcp(echo), "echo", bound));
    CHECK(bound.fd >= 0);
    CHECK_FALSE(bound.created_file);
    ::close(bound.fd);
    // A name that is no service's: matched by address alone, by anyone.
    REQUIRE(passed.take(tcp(other), "", bound));
    ::close(bound.fd);
    CHECK(passed.holds(tcp(daytime)));

    passed.close_unadopted();  // the one named "echo" at daytime's address
    CHECK(passed.sockets().size() == 2);
    CHECK_FALSE(passed.holds(tcp(daytime)));
    CHECK(::fcntl(k_first + 1, F_GETFD) == -1);  // closed
}
