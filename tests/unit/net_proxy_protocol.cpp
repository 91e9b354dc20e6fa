// net/proxy_protocol and net/proxy_protocol_parse: the headers switchboard
// writes read back by its own parser, and the parser's verdicts on headers
// whole, split, truncated, oversized and malformed.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "net/proxy_protocol.hpp"
#include "net/proxy_protocol_parse.hpp"

using namespace sb::net;
using State = ProxyHeaderParser::State;

namespace {

SockAddr inet(const char* host, std::uint16_t port) {
    SockAddr a;
    if (std::strchr(host, ':') != nullptr) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        REQUIRE(inet_pton(AF_INET6, host, &in6->sin6_addr) == 1);
        a.length = sizeof(sockaddr_in6);
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        REQUIRE(inet_pton(AF_INET, host, &in->sin_addr) == 1);
        a.length = sizeof(sockaddr_in);
    }
    return a;
}

SockAddr unix_path(const char* path) {
    SockAddr a;
    auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
    un->sun_family = AF_UNIX;
    std::strcpy(un->sun_path, path);
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path) + 1);
    return a;
}

// Feeds `bytes` in pieces of `step`; returns the parser and how many bytes it took.
std::pair<ProxyHeaderParser, std::size_t> parse(const std::string& bytes, std::size_t step = 1 << 20) {
    ProxyHeaderParser p;
    std::size_t used = 0;
    while (used < bytes.size() && p.state() == State::more) {
        std::size_t n = std::min(step, bytes.size() - used);
        std::size_t took = p.feed({bytes.data() + used, n});
        used += took;
        if (took < n) break;
    }
    return {p, used};
}

}  // namespace

TEST_CASE("v1 headers as switchboard writes them") {
    CHECK(proxy_v1_header(inet("192.0.2.7", 4711), inet("198.51.100.1", 443)) ==
          "PROXY TCP4 192.0.2.7 198.51.100.1 4711 443\r\n");
    CHECK(proxy_v1_header(inet("2001:db8::5", 1), inet("2001:db8::1", 2)) ==
          "PROXY TCP6 2001:db8::5 2001:db8::1 1 2\r\n");
    CHECK(proxy_v1_header(inet("::ffff:192.0.2.7", 1), inet("::ffff:127.0.0.1", 2)) ==
          "PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n");
    CHECK(proxy_v1_header(unix_path("/a"), unix_path("/b")) == "PROXY UNKNOWN\r\n");
}

TEST_CASE("v2 headers read back with their family, whole or one byte at a time") {
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
        INFO("step " << step);
        std::string h4 = proxy_v2_header(inet("192.0.2.7", 4711), inet("198.51.100.1", 443));
        CHECK(h4.size() == 16 + 12);
        CHECK(h4.substr(12, 2) == std::string("\x21\x11", 2));
        auto [p4, used4] = parse(h4 + "payload", step);
        REQUIRE(p4.state() == State::done);
        CHECK(used4 == h4.size());  // the payload stays in the socket
        CHECK(p4.header().source.to_string() == "192.0.2.7:4711");
        CHECK(p4.header().destination.to_string() == "198.51.100.1:443");

        std::string h6 = proxy_v2_header(inet("2001:db8::5", 1), inet("2001:db8::1", 2));
        CHECK(h6[13] == '\x21');
        auto [p6, used6] = parse(h6, step);
        REQUIRE(p6.state() == State::done);
        CHECK(p6.header().source.to_string() == "[2001:db8::5]:1");

        std::string hu = proxy_v2_header(unix_path("/run/c.sock"), unix_path("/run/s.sock"));
        CHECK(hu.size() == 16 + 216);
        CHECK(hu[13] == '\x31');
        auto [pu, usedu] = parse(hu, step);
        REQUIRE(pu.state() == State::done);
        CHECK(pu.header().destination.to_string() == "unix:/run/s.sock");
        CHECK_FALSE(pu.header().local);
    }
}

TEST_CASE("v1 headers parsed, split anywhere") {
    std::string line = "PROXY TCP6 2001:db8::5 2001:db8::1 4711 443\r\n";
    for (std::size_t step = 1; step <= line.size(); ++step) {
        auto [p, used] = parse(line + "GET /", step);
        REQUIRE(p.state() == State::done);
        CHECK(used == line.size());
        CHECK(p.header().source.to_string() == "[2001:db8::5]:4711");
    }
    auto [unknown, u] = parse("PROXY UNKNOWN whatever\r\nx");
    CHECK(unknown.state() == State::done);
    CHECK(unknown.header().local);
}

TEST_CASE("LOCAL and UNSPEC leave the real addresses; TLVs are skipped") {
    std::string local("\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00", 16);
    auto [p, used] = parse(local + "x");
    CHECK(p.state() == State::done);
    CHECK(used == 16);
    CHECK(p.header().local);
    std::string h = proxy_v2_header(inet("192.0.2.7", 1), inet("192.0.2.8", 2));
    std::string tlv = std::string("\x01\x00\x02h2", 5) + std::string("\xee\x01\x00", 3) + std::string(256, 'x');
    std::uint16_t len = static_cast<std::uint16_t>(12 + tlv.size());
    h[14] = static_cast<char>(len >> 8);
    h[15] = static_cast<char>(len & 0xff);
    auto [t, tused] = parse(h + tlv + "after", 3);
    REQUIRE(t.state() == State::done);
    CHECK(tused == h.size() + tlv.size());
    CHECK(t.header().source.to_string() == "192.0.2.7:1");
}

TEST_CASE("malformed, oversized and foreign starts are refused; truncated ones wait") {
    CHECK(parse("GET / HTTP/1.1\r\n").first.state() == State::bad);
    CHECK(parse("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n").first.state() == State::bad);
    CHECK(parse("PROXY TCP4 ::1 5.6.7.8 1 2\r\n").first.state() == State::bad);
    CHECK(parse("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n").first.state() == State::bad);
    CHECK(parse("PROXY TCP4 " + std::string(200, '1') + "\r\n").first.state() == State::bad);
    CHECK(parse("PROXX TCP4").first.state() == State::bad);
    auto [truncated, used] = parse("PROXY TCP4 1.2.3.4 5.6");
    CHECK(truncated.state() == State::more);
    CHECK(used == 22);  // all of it is header so far
    std::string h = proxy_v2_header(inet("192.0.2.7", 1), inet("192.0.2.8", 2));
    CHECK(parse(h.substr(0, 20)).first.state() == State::more);
    std::string bad_version = h;
    bad_version[12] = '\x31';
    CHECK(parse(bad_version).first.state() == State::bad);
    std::string short_length = h;
    short_length[15] = 4;
    CHECK(parse(short_length).first.state() == State::bad);
}
