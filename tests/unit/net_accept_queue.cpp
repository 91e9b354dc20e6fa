// Listing an accept queue through sock_diag: the TCP peers that wait, by
// address, the UNIX clients, by inode, and none once accepted; nothing for
// a socket that is not a stream listener.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <set>
#include <string>

#include "net/accept_queue.hpp"
#include "switchboard/fd.hpp"

using namespace sb;

namespace {

std::string local_of(int fd) {
    sockaddr_in sin{};
    socklen_t length = sizeof sin;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &length) == 0);
    char text[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(sin.sin_port));
}

}  // namespace

TEST_CASE("the peers waiting in an accept queue, and not those accepted") {
    Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener.get(), 8) == 0);
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);

    auto none = net::waiting_peers(listener.get());
    REQUIRE(none.has_value());
    CHECK(none->empty());

    Fd a(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Fd b(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::connect(a.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::connect(b.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    auto both = net::waiting_peers(listener.get());
    REQUIRE(both.has_value());
    CHECK(both->size() == 2);
    CHECK(both->count(local_of(a.get())) == 1);
    CHECK(both->count(local_of(b.get())) == 1);

    // A peer that gives up still waits (CLOSE_WAIT) until accepted.
    a.reset();
    auto after_close = net::waiting_peers(listener.get());
    REQUIRE(after_close.has_value());
    CHECK(after_close->size() == 2);
    CHECK(net::accept_queue_length(listener.get()) == 2u);
    Fd taken(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(taken);
    auto left = net::waiting_peers(listener.get());
    REQUIRE(left.has_value());
    CHECK(left->size() == 1);
    CHECK(net::accept_queue_length(listener.get()) == 1u);
    Fd taken_too(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    CHECK(net::accept_queue_length(listener.get()) == 0u);
    // Only a TCP listener has a length to tell this way.
    CHECK_FALSE(net::accept_queue_length(taken.get()).has_value());
}

TEST_CASE("the clients waiting on a UNIX listener, by their sockets' inodes") {
    Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // An abstract name: nothing on disk to clean up.
    std::string name = "sb-accept-queue-" + std::to_string(::getpid());
    std::memcpy(address.sun_path + 1, name.data(), name.size());
    auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    REQUIRE(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    REQUIRE(::listen(listener.get(), 8) == 0);

    auto none = net::waiting_peers(listener.get());
    REQUIRE(none.has_value());
    CHECK(none->empty());

    Fd a(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    Fd b(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::connect(a.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    REQUIRE(::connect(b.get(), reinterpret_cast<sockaddr*>(&address), length) == 0);
    auto inode_of = [](int fd) {
        struct stat st {};
        REQUIRE(::fstat(fd, &st) == 0);
        return "ino:" + std::to_string(st.st_ino);
    };
    auto both = net::waiting_peers(listener.get());
    REQUIRE(both.has_value());
    CHECK(*both == std::set<std::string>{inode_of(a.get()), inode_of(b.get())});

    Fd taken(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(taken);
    auto left = net::waiting_peers(listener.get());
    REQUIRE(left.has_value());
    CHECK(*left == std::set<std::string>{inode_of(b.get())});
}

TEST_CASE("a socket that is not a stream listener has no accept queue to list") {
    Fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK_FALSE(net::waiting_peers(udp.get()).has_value());
    Fd unix_datagram(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    CHECK_FALSE(net::waiting_peers(unix_datagram.get()).has_value());
    // Not listening: unix_diag has nothing to say about it.
    Fd unbound(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    CHECK_FALSE(net::waiting_peers(unbound.get()).has_value());
}
