// The tcpmux request line (RFC 1078): a service name, then CRLF. A pure
// function over the bytes received so far, so the session can peek, decide,
// and consume exactly the line; fuzzed (fuzz/tcpmux_request.cpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sb::net {

struct TcpmuxRequest {
    enum class State {
        more,      // no line end yet, and room for one
        too_long,  // max_line bytes and still no line end
        empty,     // a line with no name
        help,      // "HELP", any case: the list of names is asked for
        name,      // a service name
    };
    State state = State::more;
    std::size_t line_length = 0;  // with a line: its bytes through the LF, to consume
    std::string_view name;        // State::name: the name, blanks and CR trimmed (points into the input)
};

// tcpmux names: 1-64 printable ASCII characters without blanks (what a
// request line can carry), compared without regard to case. A service
// name must also not be "HELP", the request for the list.
inline constexpr std::size_t k_tcpmux_max_name = 64;
bool tcpmux_name_well_formed(std::string_view name);
bool same_tcpmux_name(std::string_view a, std::string_view b);
// The name in one case: equal keys for exactly the names same_tcpmux_name
// calls the same (to index them).
std::string tcpmux_name_key(std::string_view name);

// A bare LF ends a line too; blanks (space, tab) around the name are
// ignored. `max_line` counts the line end.
TcpmuxRequest parse_tcpmux_request(std::string_view received, std::size_t max_line);

}  // namespace sb::net
