// CIDR prefixes in allow/deny lists: parsing, the errors users see, and
// matching peers, including IPv4 clients on dual-stack listeners.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "switchboard/net/cidr.hpp"

using sb::net::Cidr;
using sb::net::IpAddress;

namespace {

Cidr cidr(std::string_view text) {
    std::string error;
    auto c = Cidr::parse(text, error);
    INFO("parsing ", std::string(text), ": ", error);
    REQUIRE(c.has_value());
    return *c;
}

std::string cidr_error(std::string_view text) {
    std::string error;
    auto c = Cidr::parse(text, error);
    INFO("parsing ", std::string(text));
    CHECK_FALSE(c.has_value());
    return error;
}

IpAddress ip(std::string_view text) {
    auto a = IpAddress::parse(text);
    INFO(std::string(text));
    REQUIRE(a.has_value());
    return *a;
}

}  // namespace

TEST_CASE("IPv4 prefixes") {
    Cidr ten = cidr("10.0.0.0/8");
    CHECK(ten.bits == 96 + 8);
    CHECK(ten.to_string() == "10.0.0.0/8");
    CHECK(ten.contains(ip("10.1.2.3")));
    CHECK(ten.contains(ip("10.255.255.255")));
    CHECK_FALSE(ten.contains(ip("11.0.0.0")));
    CHECK_FALSE(ten.contains(ip("::1")));

    Cidr host = cidr("192.0.2.1");
    CHECK(host.bits == 128);
    CHECK(host.to_string() == "192.0.2.1");
    CHECK(host.contains(ip("192.0.2.1")));
    CHECK_FALSE(host.contains(ip("192.0.2.2")));

    Cidr all = cidr("0.0.0.0/0");
    CHECK(all.to_string() == "0.0.0.0/0");
    CHECK(all.contains(ip("203.0.113.9")));
    CHECK_FALSE(all.contains(ip("2001:db8::1")));  // an IPv4 rule says nothing about IPv6 peers
}

TEST_CASE("IPv6 prefixes") {
    Cidr doc = cidr("2001:db8::/32");
    CHECK(doc.bits == 32);
    CHECK(doc.to_string() == "2001:db8::/32");
    CHECK(doc.contains(ip("2001:db8:1::5")));
    CHECK_FALSE(doc.contains(ip("2001:db9::")));
    CHECK(cidr("::1").to_string() == "::1");
    CHECK(cidr("::1").contains(ip("::1")));
    CHECK(cidr("::/0").contains(ip("2001:db8::1")));
    CHECK(cidr("2001:DB8::/32") == doc);
}

TEST_CASE("v4-mapped peers match IPv4 rules, and the reverse") {
    // A dual-stack listener sees an IPv4 client as ::ffff:a.b.c.d.
    sockaddr_in6 mapped{};
    mapped.sin6_family = AF_INET6;
    inet_pton(AF_INET6, "::ffff:10.9.8.7", &mapped.sin6_addr);
    auto peer = IpAddress::from(sb::net::SockAddr::from(reinterpret_cast<const sockaddr*>(&mapped), sizeof mapped));
    REQUIRE(peer);
    CHECK(peer->is_v4());
    CHECK(peer->to_string() == "10.9.8.7");
    CHECK(cidr("10.0.0.0/8").contains(*peer));

    sockaddr_in plain{};
    plain.sin_family = AF_INET;
    inet_pton(AF_INET, "10.9.8.7", &plain.sin_addr);
    auto v4_peer = IpAddress::from(sb::net::SockAddr::from(reinterpret_cast<const sockaddr*>(&plain), sizeof plain));
    REQUIRE(v4_peer);
    CHECK(*v4_peer == *peer);
    CHECK(cidr("::ffff:10.0.0.0/104").contains(*v4_peer));
    CHECK(cidr("::ffff:10.0.0.0/104") == cidr("10.0.0.0/8"));

    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    CHECK_FALSE(IpAddress::from(sb::net::SockAddr::from(reinterpret_cast<const sockaddr*>(&un), sizeof un)));
}

TEST_CASE("host bits past the prefix are an error with the fix") {
    CHECK(cidr_error("10.0.0.1/8") == "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?");
    CHECK(cidr_error("192.168.1.130/25") == "192.168.1.130/25 has host bits set; did you mean 192.168.1.128/25?");
    CHECK(cidr_error("2001:db8::1/32") == "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?");
}

TEST_CASE("malformed prefixes") {
    CHECK(cidr_error("10.0.0.0/33") == "prefix length in \"10.0.0.0/33\" is out of range 0-32");
    CHECK(cidr_error("::/129") == "prefix length in \"::/129\" is out of range 0-128");
    CHECK(cidr_error("::/99999999999999999999") == "prefix length in \"::/99999999999999999999\" is out of range 0-128");
    CHECK(cidr_error("10.0.0.0/") == "invalid prefix length in \"10.0.0.0/\"; expected ADDRESS/BITS");
    CHECK(cidr_error("10.0.0.0/-1") == "invalid prefix length in \"10.0.0.0/-1\"; expected ADDRESS/BITS");
    CHECK(cidr_error("10.0.0.0/8x") == "invalid prefix length in \"10.0.0.0/8x\"; expected ADDRESS/BITS");
    CHECK(cidr_error("example.com/8") == "invalid IP address \"example.com\" in \"example.com/8\"");
    CHECK(cidr_error("") == "invalid IP address \"\" in \"\"");
    CHECK(cidr_error("[::1]/128") == "invalid IP address \"[::1]\" in \"[::1]/128\"");
}

TEST_CASE("IpAddress helpers") {
    CHECK(ip("[::1]") == ip("::1"));
    CHECK_FALSE(IpAddress::parse("1.2.3.4.5"));
    CHECK_FALSE(IpAddress::parse(""));
    CHECK(ip("10.1.2.3").masked(96 + 8) == ip("10.0.0.0"));
    CHECK(ip("2001:db8:ffff::1").masked(33) == ip("2001:db8:8000::"));
    CHECK(ip("2001:db8::1").masked(0) == ip("::"));
    CHECK(ip("2001:db8::1").masked(128) == ip("2001:db8::1"));
    CHECK(ip("2001:db8::1").to_string() == "2001:db8::1");
    CHECK_FALSE(ip("::1").is_v4());
}
