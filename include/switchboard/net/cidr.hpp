// CIDR prefixes for allow/deny lists and per-source grouping.
//
// Addresses are held as 16 bytes; IPv4 is stored v4-mapped (::ffff:a.b.c.d)
// with the prefix length shifted by 96, so an IPv4 rule matches a client that
// arrives as a v4-mapped IPv6 peer on a dual-stack listener, and the reverse.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/net/endpoint.hpp"

namespace sb::net {

// A peer's IP address, normalised to 16 bytes (IPv4 as v4-mapped).
struct IpAddress {
    std::array<std::uint8_t, 16> bytes{};

    [[nodiscard]] bool is_v4() const;
    [[nodiscard]] std::string to_string() const;
    // nullopt for non-IP (UNIX) addresses.
    static std::optional<IpAddress> from(const SockAddr& addr);
    static std::optional<IpAddress> parse(std::string_view text);
    // The address with every bit past `bits` (in 128-bit space) cleared.
    [[nodiscard]] IpAddress masked(unsigned bits) const;

    friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct Cidr {
    IpAddress base;   // already masked
    unsigned bits = 128;  // in 128-bit space; an IPv4 /24 is stored as 120

    [[nodiscard]] bool contains(const IpAddress& ip) const;
    // "10.0.0.0/8", "2001:db8::/32"; a bare address is a full-length prefix.
    [[nodiscard]] std::string to_string() const;
    // Accepts "10.0.0.0/8", "2001:db8::/32", "192.0.2.1" (=/32), "::1".
    // Host bits set past the prefix are an error ("10.0.0.1/8 has host bits
    // set; did you mean 10.0.0.0/8?").
    static std::optional<Cidr> parse(std::string_view text, std::string& error);

    friend bool operator==(const Cidr&, const Cidr&) = default;
};

}  // namespace sb::net
