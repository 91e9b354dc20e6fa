// IP addresses normalised to 16 bytes and CIDR prefixes over them.
#include "switchboard/net/cidr.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "net/quote.hpp"

namespace sb::net {

namespace {

constexpr unsigned k_v4_offset = 96;  // bits of the ::ffff:0:0/96 prefix

IpAddress from_v4(const in_addr& a) {
    IpAddress ip;
    ip.bytes[10] = 0xff;
    ip.bytes[11] = 0xff;
    std::memcpy(&ip.bytes[12], &a, 4);
    return ip;
}

IpAddress from_v6(const in6_addr& a) {
    IpAddress ip;
    std::memcpy(ip.bytes.data(), &a, 16);
    return ip;
}

}  // namespace

bool IpAddress::is_v4() const {
    return std::all_of(bytes.begin(), bytes.begin() + 10, [](std::uint8_t b) { return b == 0; }) &&
           bytes[10] == 0xff && bytes[11] == 0xff;
}

std::string IpAddress::to_string() const {
    if (is_v4()) {
        char buf[INET_ADDRSTRLEN] = {};
        inet_ntop(AF_INET, &bytes[12], buf, sizeof buf);
        return buf;
    }
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return buf;
}

std::optional<IpAddress> IpAddress::from(const SockAddr& addr) {
    if (addr.family() == AF_INET && addr.length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        return from_v4(reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr);
    }
    if (addr.family() == AF_INET6 && addr.length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        return from_v6(reinterpret_cast<const sockaddr_in6*>(&addr.storage)->sin6_addr);
    }
    return std::nullopt;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
    if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
    std::string s(text);
    in_addr v4{};
    if (inet_pton(AF_INET, s.c_str(), &v4) == 1) return from_v4(v4);
    in6_addr v6{};
    if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) return from_v6(v6);
    return std::nullopt;
}

IpAddress IpAddress::masked(unsigned bits) const {
    IpAddress out = *this;
    bits = std::min(bits, 128U);
    for (unsigned i = 0; i < 16; ++i) {
        unsigned first = i * 8;
        if (bits >= first + 8) continue;
        unsigned keep = bits > first ? bits - first : 0;
        out.bytes[i] = static_cast<std::uint8_t>(out.bytes[i] & static_cast<std::uint8_t>(0xff00U >> keep));
    }
    return out;
}

bool Cidr::contains(const IpAddress& ip) const { return ip.masked(bits) == base; }

std::string Cidr::to_string() const {
    if (base.is_v4() && bits >= k_v4_offset) {
        if (bits == 128) return base.to_string();
        return base.to_string() + "/" + std::to_string(bits - k_v4_offset);
    }
    if (bits == 128) return base.to_string();
    return base.to_string() + "/" + std::to_string(bits);
}

std::optional<Cidr> Cidr::parse(std::string_view text, std::string& error) {
    std::string_view address = text;
    std::optional<unsigned> length;
    if (std::size_t slash = text.find('/'); slash != std::string_view::npos) {
        address = text.substr(0, slash);
        std::string_view digits = text.substr(slash + 1);
        unsigned value = 0;
        auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
        if (digits.empty() || ec == std::errc::invalid_argument || end != digits.data() + digits.size()) {
            error = "invalid prefix length in " + quote(text) + "; expected ADDRESS/BITS";
            return std::nullopt;
        }
        length = ec == std::errc{} ? value : 1000U;  // 1000: out of range for any family
    }
    auto ip = IpAddress::parse(address);
    if (!ip || address.find('[') != std::string_view::npos) {
        error = "invalid IP address " + quote(address) + " in " + quote(text);
        return std::nullopt;
    }
    bool v4 = address.find(':') == std::string_view::npos;
    unsigned family_bits = v4 ? 32 : 128;
    if (length && *length > family_bits) {
        error = "prefix length in " + quote(text) + " is out of range 0-" + std::to_string(family_bits);
        return std::nullopt;
    }
    Cidr out;
    out.bits = v4 ? length.value_or(32) + k_v4_offset : length.value_or(128);
    out.base = ip->masked(out.bits);
    if (out.base != *ip) {
        error = std::string(text) + " has host bits set; did you mean " + out.to_string() + "?";
        return std::nullopt;
    }
    return out;
}

}  // namespace sb::net
