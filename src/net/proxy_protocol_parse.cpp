// The PROXY protocol header parser (see proxy_protocol_parse.hpp).
#include "net/proxy_protocol_parse.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "net/proxy_protocol.hpp"

namespace sb::net {
namespace {

constexpr std::string_view k_v1_signature = "PROXY ";
constexpr std::string_view k_v2_signature(k_proxy_v2_signature, sizeof k_proxy_v2_signature);

// Whether `have` can still become `signature` (one is a prefix of the other).
bool could_be(std::string_view have, std::string_view signature) {
    std::size_t n = std::min(have.size(), signature.size());
    return have.substr(0, n) == signature.substr(0, n);
}

std::vector<std::string_view> split_spaces(std::string_view line) {
    std::vector<std::string_view> out;
    std::size_t start = 0;
    while (start <= line.size()) {
        std::size_t end = line.find(' ', start);
        if (end == std::string_view::npos) end = line.size();
        out.push_back(line.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

bool parse_port(std::string_view text, std::uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535 || (text.size() > 1 && text[0] == '0')) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

bool inet_address(int family, std::string_view text, std::uint16_t port, SockAddr& out) {
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
    std::string z(text);
    out = {};
    if (family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        out.length = sizeof(sockaddr_in);
        return ::inet_pton(AF_INET, z.c_str(), &in->sin_addr) == 1;
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    out.length = sizeof(sockaddr_in6);
    return ::inet_pton(AF_INET6, z.c_str(), &in6->sin6_addr) == 1;
}

SockAddr inet_from_bytes(int family, const char* addr, const char* port) {
    SockAddr out;
    if (family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&out.storage);
        in->sin_family = AF_INET;
        std::memcpy(&in->sin_addr, addr, 4);
        std::memcpy(&in->sin_port, port, 2);
        out.length = sizeof(sockaddr_in);
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
        in6->sin6_family = AF_INET6;
        std::memcpy(&in6->sin6_addr, addr, 16);
        std::memcpy(&in6->sin6_port, port, 2);
        out.length = sizeof(sockaddr_in6);
    }
    return out;
}

SockAddr unix_from_bytes(const char* path108) {
    SockAddr out;
    auto* un = reinterpret_cast<sockaddr_un*>(&out.storage);
    un->sun_family = AF_UNIX;
    std::size_t n = sizeof un->sun_path;
    if (path108[0] != '\0') n = strnlen(path108, sizeof un->sun_path);  // a path; abstract names keep all
    std::memcpy(un->sun_path, path108, n);
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
    return out;
}

}  // namespace

void ProxyHeaderParser::fail(std::string why) {
    state_ = State::bad;
    error_ = std::move(why);
}

std::size_t ProxyHeaderParser::feed(std::span<const char> bytes) {
    std::size_t used = 0;
    while (state_ == State::more && used < bytes.size()) {
        std::span<const char> rest = bytes.subspan(used);
        if (version_ == 0) {
            // Take bytes one at a time until the signature is told apart:
            // the first byte does it ('P' or '\r'), and any byte that fits
            // neither ends the parse.
            head_.push_back(rest[0]);
            ++used;
            ++consumed_;
            bool v1 = could_be(head_, k_v1_signature);
            bool v2 = could_be(head_, k_v2_signature);
            if (!v1 && !v2) {
                fail("the connection did not start with a PROXY protocol header");
            } else if (v1 != v2) {
                version_ = v1 ? 1 : 2;
            }
            continue;
        }
        used += version_ == 1 ? feed_v1(rest) : feed_v2(rest);
    }
    return used;
}

std::size_t ProxyHeaderParser::feed_v1(std::span<const char> bytes) {
    std::size_t used = 0;
    for (char c : bytes) {
        head_.push_back(c);
        ++used;
        ++consumed_;
        if (head_.size() <= k_v1_signature.size() && !could_be(head_, k_v1_signature)) {
            fail("the connection did not start with a PROXY protocol header");
            return used;
        }
        if (head_.size() >= 2 && head_[head_.size() - 2] == '\r' && c == '\n') {
            parse_v1();
            return used;
        }
        if (head_.size() >= k_v1_max) {
            fail("PROXY v1 header longer than 107 bytes");
            return used;
        }
    }
    return used;
}

void ProxyHeaderParser::parse_v1() {
    std::string_view line(head_);
    line.remove_suffix(2);  // CRLF
    if (line.find('\r') != std::string_view::npos || line.find('\n') != std::string_view::npos) {
        fail("malformed PROXY v1 header: stray CR or LF");
        return;
    }
    auto fields = split_spaces(line);
    header_.version = 1;
    if (fields.size() >= 2 && fields[1] == "UNKNOWN") {
        header_.local = true;  // the rest of the line is ignored, as the spec says
        state_ = State::done;
        return;
    }
    if (fields.size() != 6 || (fields[1] != "TCP4" && fields[1] != "TCP6")) {
        fail("malformed PROXY v1 header: expected \"PROXY TCP4|TCP6 SRC DST SPORT DPORT\"");
        return;
    }
    int family = fields[1] == "TCP4" ? AF_INET : AF_INET6;
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    if (!parse_port(fields[4], sport) || !parse_port(fields[5], dport)) {
        fail("malformed PROXY v1 header: bad port");
        return;
    }
    if (!inet_address(family, fields[2], sport, header_.source) ||
        !inet_address(family, fields[3], dport, header_.destination)) {
        fail("malformed PROXY v1 header: bad address for " + std::string(fields[1]));
        return;
    }
    header_.local = false;
    state_ = State::done;
}

std::size_t ProxyHeaderParser::feed_v2(std::span<const char> bytes) {
    std::size_t used = 0;
    // The 16-byte preamble, then up to 16 + length: exactly the header.
    while (used < bytes.size() && consumed_ < 16) {
        head_.push_back(bytes[used++]);
        ++consumed_;
        if (consumed_ <= k_v2_signature.size() && !could_be(head_, k_v2_signature)) {
            fail("the connection did not start with a PROXY protocol header");
            return used;
        }
    }
    if (consumed_ < 16) return used;
    if (v2_total_ == 0) {
        auto byte = [&](std::size_t i) { return static_cast<unsigned char>(head_[i]); };
        if ((byte(12) >> 4) != 2) {
            fail("PROXY v2 header with version " + std::to_string(byte(12) >> 4));
            return used;
        }
        if ((byte(12) & 0x0f) > 1) {
            fail("PROXY v2 header with unknown command " + std::to_string(byte(12) & 0x0f));
            return used;
        }
        v2_total_ = 16 + (static_cast<std::size_t>(byte(14)) << 8 | byte(15));
    }
    std::size_t take = std::min(bytes.size() - used, v2_total_ - consumed_);
    std::size_t keep = head_.size() < k_v2_kept ? std::min(take, k_v2_kept - head_.size()) : 0;
    head_.append(bytes.data() + used, keep);
    used += take;
    consumed_ += take;
    if (consumed_ == v2_total_) parse_v2();
    return used;
}

void ProxyHeaderParser::parse_v2() {
    header_.version = 2;
    auto byte = [&](std::size_t i) { return static_cast<unsigned char>(head_[i]); };
    const bool local = (byte(12) & 0x0f) == 0;
    const unsigned family = byte(13);
    const std::size_t length = v2_total_ - 16;
    std::size_t need = 0;
    switch (family) {
        case 0x00: need = 0; break;    // UNSPEC
        case 0x11: need = 12; break;   // TCP over IPv4
        case 0x21: need = 36; break;   // TCP over IPv6
        case 0x31: need = 216; break;  // UNIX stream
        default:
            if (!local) {
                fail("PROXY v2 header with an unsupported family/protocol byte " + std::to_string(family));
                return;
            }
    }
    if (length < need) {
        fail("PROXY v2 header too short for its address family");
        return;
    }
    state_ = State::done;
    if (local || family == 0x00) {
        header_.local = true;  // health checks and the like: the real addresses stand
        return;
    }
    const char* a = head_.data() + 16;
    if (family == 0x11) {
        header_.source = inet_from_bytes(AF_INET, a, a + 8);
        header_.destination = inet_from_bytes(AF_INET, a + 4, a + 10);
    } else if (family == 0x21) {
        header_.source = inet_from_bytes(AF_INET6, a, a + 32);
        header_.destination = inet_from_bytes(AF_INET6, a + 16, a + 34);
    } else {
        header_.source = unix_from_bytes(a);
        header_.destination = unix_from_bytes(a + 108);
    }
    header_.local = false;
}

}  // namespace sb::net
