// The built-in protocols' bytes (see builtin_protocols.hpp).
#include "services/builtin_protocols.hpp"

namespace sb::services {

std::string_view chargen_pattern() {
    static const std::string pattern = [] {
        constexpr int first = 0x20;
        constexpr int count = 95;
        std::string s;
        s.reserve(count * k_chargen_line);
        for (int line = 0; line < count; ++line) {
            for (int i = 0; i < 72; ++i) s += static_cast<char>(first + (line + i) % count);
            s += "\r\n";
        }
        return s;
    }();
    return pattern;
}

std::string daytime_text(std::time_t now) {
    tm parts{};
    gmtime_r(&now, &parts);
    char buf[64];
    std::size_t n = std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y\r\n", &parts);
    return std::string(buf, n);
}

std::array<std::uint8_t, 4> time_bytes(std::time_t now) {
    // 2,208,988,800 seconds from 1900 to 1970; RFC 868 wraps at 2^32 (in 2036).
    auto t = static_cast<std::uint32_t>(static_cast<std::uint64_t>(now) + 2208988800ULL);
    return {static_cast<std::uint8_t>(t >> 24), static_cast<std::uint8_t>(t >> 16),
            static_cast<std::uint8_t>(t >> 8), static_cast<std::uint8_t>(t)};
}

}  // namespace sb::services
