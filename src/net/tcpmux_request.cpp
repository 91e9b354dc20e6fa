// The tcpmux request line (see tcpmux_request.hpp).
#include "net/tcpmux_request.hpp"

namespace sb::net {
namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool is_help(std::string_view name) {
    constexpr std::string_view help = "help";
    if (name.size() != help.size()) return false;
    for (std::size_t i = 0; i < help.size(); ++i) {
        char c = name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] + 32) : name[i];
        if (c != help[i]) return false;
    }
    return true;
}

}  // namespace

TcpmuxRequest parse_tcpmux_request(std::string_view received, std::size_t max_line) {
    TcpmuxRequest out;
    std::string_view window = received.substr(0, max_line);
    auto end = window.find('\n');
    if (end == std::string_view::npos) {
        out.state = window.size() >= max_line ? TcpmuxRequest::State::too_long : TcpmuxRequest::State::more;
        return out;
    }
    out.line_length = end + 1;
    std::string_view name = window.substr(0, end);
    while (!name.empty() && blank(name.back())) name.remove_suffix(1);
    while (!name.empty() && blank(name.front())) name.remove_prefix(1);
    if (name.empty()) {
        out.state = TcpmuxRequest::State::empty;
    } else if (is_help(name)) {
        out.state = TcpmuxRequest::State::help;
    } else {
        out.state = TcpmuxRequest::State::name;
        out.name = name;
    }
    return out;
}

}  // namespace sb::net
