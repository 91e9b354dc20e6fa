// The tcpmux request line (see tcpmux_request.hpp).
#include "net/tcpmux_request.hpp"

namespace sb::net {
namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

}  // namespace

bool tcpmux_name_well_formed(std::string_view name) {
    if (name.empty() || name.size() > k_tcpmux_max_name) return false;
    for (char c : name) {
        if (c <= ' ' || c >= 127) return false;
    }
    return true;
}

bool same_tcpmux_name(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::string tcpmux_name_key(std::string_view name) {
    std::string key(name);
    for (char& c : key) c = lower(c);
    return key;
}

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
    } else if (same_tcpmux_name(name, "HELP")) {
        out.state = TcpmuxRequest::State::help;
    } else {
        out.state = TcpmuxRequest::State::name;
        out.name = name;
    }
    return out;
}

}  // namespace sb::net
