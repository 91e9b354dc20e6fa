// Fuzz target: arbitrary bytes as the start of a tcpmux connection. The
// request parser must never claim more than it was offered or more than a
// line, must find the same line in the line alone as in the whole input
// (bytes after the line end change nothing), and must say "more" only when
// a longer input could still complete the line.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/tcpmux_request.hpp"

using sb::net::parse_tcpmux_request;
using State = sb::net::TcpmuxRequest::State;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    constexpr std::size_t k_max = 256;
    auto r = parse_tcpmux_request(bytes, k_max);
    switch (r.state) {
        case State::more:
            if (bytes.size() >= k_max || bytes.find('\n') != std::string_view::npos) __builtin_trap();
            break;
        case State::too_long:
            if (bytes.size() < k_max || bytes.substr(0, k_max).find('\n') != std::string_view::npos) __builtin_trap();
            break;
        case State::empty:
        case State::help:
        case State::name: {
            if (r.line_length == 0 || r.line_length > k_max || r.line_length > bytes.size()) __builtin_trap();
            if (bytes[r.line_length - 1] != '\n') __builtin_trap();
            if (bytes.substr(0, r.line_length - 1).find('\n') != std::string_view::npos) __builtin_trap();
            auto alone = parse_tcpmux_request(bytes.substr(0, r.line_length), k_max);
            if (alone.state != r.state || alone.line_length != r.line_length || alone.name != r.name) __builtin_trap();
            if (r.state == State::name) {
                if (r.name.empty()) __builtin_trap();
                if (r.name.data() < bytes.data() || r.name.data() + r.name.size() > bytes.data() + r.line_length)
                    __builtin_trap();
                for (char c : {r.name.front(), r.name.back()}) {
                    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') __builtin_trap();
                }
            } else if (!r.name.empty()) {
                __builtin_trap();
            }
            break;
        }
    }
    return 0;
}
