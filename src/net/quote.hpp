// Quoting configured text inside error messages: one line, printable, and
// unambiguous even when the text holds quotes or control characters.
#pragma once

#include <string>
#include <string_view>

namespace sb::net {

inline std::string quote(std::string_view s) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += k_hex[u >> 4];
            out += k_hex[u & 0xf];
        } else {
            out += c;
        }
    }
    return out + "\"";
}

}  // namespace sb::net
