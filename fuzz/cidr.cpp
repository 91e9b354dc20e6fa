// Fuzz target: arbitrary bytes as an allow/deny entry ("10.0.0.0/8",
// "2001:db8::/32", a bare address). Parsing must never crash or throw; an
// accepted prefix must read back as itself from its canonical spelling and
// contain its own base address, and an accepted address must read back as
// itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/net/cidr.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string error;
    auto cidr = sb::net::Cidr::parse(text, error);
    if (cidr.has_value() == !error.empty()) __builtin_trap();  // exactly one of them
    if (cidr) {
        if (cidr->bits > 128 || !cidr->contains(cidr->base)) __builtin_trap();
        std::string again_error;
        auto again = sb::net::Cidr::parse(cidr->to_string(), again_error);
        if (!again || !(*again == *cidr)) __builtin_trap();
    }
    if (auto ip = sb::net::IpAddress::parse(text)) {
        auto again = sb::net::IpAddress::parse(ip->to_string());
        if (!again || !(*again == *ip)) __builtin_trap();
        if (!(ip->masked(128) == *ip)) __builtin_trap();
    }
    return 0;
}
