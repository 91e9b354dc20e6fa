// The tcpmux request line (RFC 1078): a service name, then CRLF. A pure
// function over the bytes received so far, so the session can peek, decide,
// and consume exactly the line; fuzzed (fuzz/tcpmux_request.cpp).
#pragma once

#include <cstddef>
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

// A bare LF ends a line too; blanks (space, tab) around the name are
// ignored. `max_line` counts the line end.
TcpmuxRequest parse_tcpmux_request(std::string_view received, std::size_t max_line);

}  // namespace sb::net
