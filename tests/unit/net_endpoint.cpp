// Endpoint parsing and rendering: what users write in "listen" and what the
// logs show back.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "net/packed_address.hpp"
#include "switchboard/net/endpoint.hpp"

using sb::net::Endpoint;
using sb::net::parse_endpoint;
using sb::net::SockAddr;
using sb::net::Transport;

namespace {

Endpoint parse_ok(std::string_view text, bool allow_names = false) {
    std::string error;
    auto ep = parse_endpoint(text, error, allow_names);
    INFO("parsing ", std::string(text), ": ", error);
    REQUIRE(ep.has_value());
    CHECK(error.empty());
    return *ep;
}

std::string parse_error(std::string_view text, bool allow_names = false) {
    std::string error;
    auto ep = parse_endpoint(text, error, allow_names);
    INFO("parsing ", std::string(text));
    CHECK_FALSE(ep.has_value());
    CHECK_FALSE(error.empty());
    return error;
}

}  // namespace

TEST_CASE("IPv4 endpoints") {
    Endpoint ep = parse_ok("tcp://127.0.0.1:7");
    CHECK(ep.transport == Transport::tcp);
    CHECK(ep.host == "127.0.0.1");
    CHECK(ep.port == 7);
    CHECK_FALSE(ep.any);
    CHECK(ep.is_stream());
    CHECK(ep.to_string() == "tcp://127.0.0.1:7");

    Endpoint udp = parse_ok("udp://0.0.0.0:65535");
    CHECK(udp.transport == Transport::udp);
    CHECK_FALSE(udp.is_stream());
    CHECK(udp.port == 65535);
    CHECK(udp.to_string() == "udp://0.0.0.0:65535");

    auto addr = ep.literal_address();
    REQUIRE(addr);
    CHECK(addr->family() == AF_INET);
    CHECK(addr->length == sizeof(sockaddr_in));
    CHECK(addr->to_string() == "127.0.0.1:7");
    CHECK(addr->host() == "127.0.0.1");
    CHECK(addr->port() == 7);
}

TEST_CASE("IPv6 endpoints are bracketed and rendered canonically") {
    Endpoint ep = parse_ok("udp://[::1]:53");
    CHECK(ep.transport == Transport::udp);
    CHECK(ep.host == "::1");
    CHECK(ep.to_string() == "udp://[::1]:53");

    // The same address spelled differently is the same endpoint, so a
    // reload does not rebind it.
    CHECK(parse_ok("tcp://[0:0::1]:80") == parse_ok("tcp://[::1]:80"));
    CHECK(parse_ok("tcp://[2001:DB8::1]:80").to_string() == "tcp://[2001:db8::1]:80");

    auto addr = ep.literal_address();
    REQUIRE(addr);
    CHECK(addr->family() == AF_INET6);
    CHECK(addr->to_string() == "[::1]:53");
}

TEST_CASE("\"*\" is every interface, dual-stack") {
    Endpoint ep = parse_ok("tcp://*:9418");
    CHECK(ep.any);
    CHECK(ep.host == "*");
    CHECK(ep.to_string() == "tcp://*:9418");
    auto addr = ep.literal_address();
    REQUIRE(addr);
    CHECK(addr->family() == AF_INET6);
    CHECK(addr->to_string() == "[::]:9418");
}

TEST_CASE("UNIX endpoints: paths and abstract names") {
    Endpoint path = parse_ok("unix:/run/words.sock");
    CHECK(path.transport == Transport::unix_stream);
    CHECK(path.is_stream());
    CHECK(path.host == "/run/words.sock");
    CHECK_FALSE(path.abstract);
    CHECK(path.port == 0);
    CHECK(path.to_string() == "unix:/run/words.sock");
    auto addr = path.literal_address();
    REQUIRE(addr);
    CHECK(addr->family() == AF_UNIX);
    CHECK(addr->to_string() == "unix:/run/words.sock");
    CHECK(addr->host().empty());
    CHECK(addr->port() == 0);

    Endpoint abstract = parse_ok("unix:@switchboard-test");
    CHECK(abstract.abstract);
    CHECK(abstract.host == "switchboard-test");
    CHECK(abstract.to_string() == "unix:@switchboard-test");
    auto abstract_addr = abstract.literal_address();
    REQUIRE(abstract_addr);
    // The kernel takes the length literally: leading NUL plus the name, no terminator.
    CHECK(abstract_addr->length == offsetof(sockaddr_un, sun_path) + 1 + std::strlen("switchboard-test"));
    CHECK(abstract_addr->to_string() == "unix:@switchboard-test");

    CHECK(parse_ok("unix:/a") != parse_ok("unix:@/a"));
}

TEST_CASE("bad ports say what is wrong") {
    CHECK(parse_error("tcp://127.0.0.1:70000") == "port 70000 is out of range 1-65535");
    CHECK(parse_error("tcp://127.0.0.1:0") == "port 0 is out of range 1-65535");
    CHECK(parse_error("udp://127.0.0.1:99999999999999999999999") ==
          "port 99999999999999999999999 is out of range 1-65535");
    CHECK(parse_error("tcp://127.0.0.1:http") ==
          "invalid port \"http\" in \"tcp://127.0.0.1:http\"; a port is a number 1-65535");
    CHECK(parse_error("tcp://127.0.0.1:-1").starts_with("invalid port \"-1\""));
    CHECK(parse_ok("tcp://127.0.0.1:1").port == 1);
}

TEST_CASE("a missing port or host is named") {
    CHECK(parse_error("tcp://127.0.0.1") == "missing port in \"tcp://127.0.0.1\" (expected tcp://HOST:PORT)");
    CHECK(parse_error("tcp://127.0.0.1:") == "missing port in \"tcp://127.0.0.1:\"");
    CHECK(parse_error("udp://[::1]") == "missing port in \"udp://[::1]\" (expected udp://[ADDRESS]:PORT)");
    CHECK(parse_error("tcp://:80") == "missing host in \"tcp://:80\"; use \"*\" for all interfaces");
}

TEST_CASE("malformed addresses") {
    CHECK(parse_error("tcp://::1:80") == "IPv6 addresses must be in brackets: \"tcp://[::1]:80\"");
    CHECK(parse_error("tcp://[::1:80") == "missing \"]\" after the IPv6 address in \"tcp://[::1:80\"");
    CHECK(parse_error("tcp://[::g]:80") == "invalid IPv6 address \"::g\" in \"tcp://[::g]:80\"");
    CHECK(parse_error("tcp://[127.0.0.1]:80").starts_with("invalid IPv6 address"));
    CHECK(parse_error("tcp://[fe80::1%eth0]:80").starts_with("IPv6 zone ids are not supported"));
    CHECK(parse_error("tcp://300.1.1.1:80") == "invalid IPv4 address \"300.1.1.1\" in \"tcp://300.1.1.1:80\"");
    CHECK(parse_error("tcp://1.2.3:80").starts_with("invalid IPv4 address"));
    CHECK(parse_error("http://127.0.0.1:80") ==
          "unknown address scheme \"http\"; expected tcp://HOST:PORT, udp://HOST:PORT, unix:/path or unix:@name");
    CHECK(parse_error("127.0.0.1:80") == "missing scheme in \"127.0.0.1:80\"; did you mean \"tcp://127.0.0.1:80\"?");
    CHECK(parse_error("/run/x.sock") == "missing scheme in \"/run/x.sock\"; did you mean \"unix:/run/x.sock\"?");
    CHECK(parse_error("").starts_with("empty address"));
    CHECK(parse_error("tcp://a b:80").starts_with("invalid host \"a b\""));
    CHECK(parse_error("tcp://[::1]x80").starts_with("unexpected \"x80\""));
}

TEST_CASE("UNIX address errors") {
    CHECK(parse_error("unix:run/x.sock") ==
          "UNIX socket path in \"unix:run/x.sock\" must be absolute (unix:/path or unix:@name)");
    CHECK(parse_error("unix:") .starts_with("UNIX socket path in \"unix:\" must be absolute"));
    CHECK(parse_error("unix:@") == "missing name after \"unix:@\" in \"unix:@\"");
    CHECK(parse_error("unix:///run/x.sock") ==
          "UNIX socket path in \"unix:///run/x.sock\" starts with \"//\"; did you mean \"unix:/run/x.sock\"?");
    std::string long_path = "unix:/" + std::string(107, 'a');
    CHECK(parse_error(long_path).ends_with("is longer than 107 bytes"));
    CHECK(parse_ok("unix:/" + std::string(106, 'a')).host.size() == 107);
    CHECK(parse_error(std::string("unix:/a\0b", 9)) == "a UNIX socket address must not contain a NUL byte");
}

TEST_CASE("host names: refused for listeners, kept for redirect targets") {
    CHECK(parse_error("tcp://localhost:80") ==
          "host names are not allowed here (\"localhost\"); use an IP address such as 127.0.0.1 or [::1], "
          "or \"*\" for all interfaces");
    Endpoint ep = parse_ok("tcp://db.internal:5432", true);
    CHECK(ep.host == "db.internal");
    CHECK_FALSE(ep.any);
    CHECK(ep.to_string() == "tcp://db.internal:5432");
    CHECK_FALSE(ep.literal_address().has_value());
    CHECK(parse_error("tcp://-bad.example:80", true).starts_with("invalid host"));
    CHECK(parse_error("tcp://" + std::string(64, 'a') + ".example:80", true).starts_with("invalid host"));
}

TEST_CASE("messages quote control characters instead of printing them") {
    std::string error = parse_error("tcp://a\nb:80");
    CHECK(error.find('\n') == std::string::npos);
    CHECK(error.find("a\\x0ab") != std::string::npos);
}

TEST_CASE("SockAddr: rendering and comparing kernel addresses") {
    sockaddr_in6 mapped{};
    mapped.sin6_family = AF_INET6;
    mapped.sin6_port = htons(4242);
    inet_pton(AF_INET6, "::ffff:192.0.2.7", &mapped.sin6_addr);
    SockAddr a = SockAddr::from(reinterpret_cast<const sockaddr*>(&mapped), sizeof mapped);
    // A v4 client on a dual-stack listener is shown as the IPv4 address it is.
    CHECK(a.host() == "192.0.2.7");
    CHECK(a.port() == 4242);
    CHECK(a.to_string() == "192.0.2.7:4242");

    SockAddr b = a;
    CHECK(a == b);
    reinterpret_cast<sockaddr_in6*>(&b.storage)->sin6_port = htons(4243);
    CHECK_FALSE(a == b);

    sockaddr_un unnamed{};
    unnamed.sun_family = AF_UNIX;
    SockAddr peer = SockAddr::from(reinterpret_cast<const sockaddr*>(&unnamed), sizeof(sa_family_t));
    CHECK(peer.to_string() == "unix");

    CHECK(SockAddr::from(nullptr, 0).length == 0);
}

TEST_CASE("PackedAddress: a connection record's compact copy gives back the same address") {
    auto round_trip = [](const SockAddr& a) {
        sb::net::PackedAddress p(a);
        SockAddr back = p.get();
        CHECK(back.length == a.length);
        CHECK(std::memcmp(&back.storage, &a.storage, static_cast<std::size_t>(a.length)) == 0);
        CHECK(p.to_string() == a.to_string());
        return p.packed();
    };
    CHECK(round_trip(*parse_ok("tcp://192.0.2.1:80").literal_address()));
    CHECK(round_trip(*parse_ok("tcp://[2001:db8::1]:443").literal_address()));
    CHECK(round_trip(*parse_ok("unix:/a").literal_address()));  // short: inline
    sockaddr_un unnamed{};
    unnamed.sun_family = AF_UNIX;
    CHECK(round_trip(SockAddr::from(reinterpret_cast<const sockaddr*>(&unnamed), sizeof(sa_family_t))));
    // A UNIX peer bound to a long path does not fit inline, and still comes back whole.
    CHECK_FALSE(round_trip(*parse_ok("unix:/run/switchboard/a-client-bound-to-a-long-path.sock").literal_address()));
    CHECK_FALSE(round_trip(*parse_ok("unix:@an-abstract-name-longer-than-an-ipv6-address").literal_address()));
    // An empty record is an empty address.
    CHECK(sb::net::PackedAddress().get().length == 0);
}
