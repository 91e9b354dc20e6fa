// The bytes of the built-in protocols, as pure functions: RFC 864 chargen,
// RFC 867 daytime and RFC 868 time. The TCP and UDP services both use them.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace sb::services {

// chargen: the 95 printable ASCII characters in a ring; line n holds the 72
// characters starting at n, then CR LF. The whole period (95 lines) as one
// string, so a stream is an offset into it.
std::string_view chargen_pattern();
inline constexpr std::size_t k_chargen_line = 74;  // 72 characters + CR LF

// daytime: "Sun Nov 22 13:14:21 2026\r\n" in UTC (the format inetd uses).
std::string daytime_text(std::time_t now);

// time: seconds since 1900-01-01 00:00 UTC, 32 bits, big-endian.
std::array<std::uint8_t, 4> time_bytes(std::time_t now);

}  // namespace sb::services
