// Endpoint parsing ("tcp://HOST:PORT", "unix:/path", ...) and the rendering
// of endpoints and socket addresses for logs and messages.
#include "switchboard/net/endpoint.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cctype>
#include <cstring>

#include "net/quote.hpp"

namespace sb::net {

namespace {

constexpr std::size_t k_sun_path_size = sizeof(sockaddr_un{}.sun_path);
constexpr std::size_t k_max_name_length = 253;  // DNS names, RFC 1035

std::string v4_text(const in_addr& a) {
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

std::string v6_text(const in6_addr& a) {
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
        in_addr v4{};
        std::memcpy(&v4, &a.s6_addr[12], 4);
        return v4_text(v4);
    }
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, &a, buf, sizeof buf);
    return buf;
}

// Letters, digits, hyphens and dots; labels of 1-63 characters that do not
// start or end with a hyphen.
bool is_host_name(std::string_view s) {
    if (s.empty() || s.size() > k_max_name_length) return false;
    std::size_t label = 0;
    char prev = '.';
    for (char c : s) {
        if (c == '.') {
            if (label == 0 || prev == '-') return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_') {
            if (label == 0 && c == '-') return false;
            if (++label > 63) return false;
        } else {
            return false;
        }
        prev = c;
    }
    return prev != '-';
}

std::optional<std::uint16_t> parse_port(std::string_view text, std::string_view whole, std::string& error) {
    if (text.empty()) {
        error = "missing port in " + quote(whole);
        return std::nullopt;
    }
    if (!std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        error = "invalid port " + quote(text) + " in " + quote(whole) + "; a port is a number 1-65535";
        return std::nullopt;
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size() || value == 0 || value > 65535) {
        std::string shown(text.substr(0, 24));
        if (text.size() > 24) shown += "...";
        error = "port " + shown + " is out of range 1-65535";
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(value);
}

std::optional<Endpoint> parse_unix(std::string_view rest, std::string_view whole, std::string& error) {
    Endpoint ep;
    ep.transport = Transport::unix_stream;
    if (rest.find('\0') != std::string_view::npos) {
        error = "a UNIX socket address must not contain a NUL byte";
        return std::nullopt;
    }
    if (!rest.empty() && rest.front() == '@') {
        rest.remove_prefix(1);
        if (rest.empty()) {
            error = "missing name after \"unix:@\" in " + quote(whole);
            return std::nullopt;
        }
        if (rest.size() > k_sun_path_size - 1) {
            error = "abstract socket name in " + quote(whole) + " is longer than " +
                    std::to_string(k_sun_path_size - 1) + " bytes";
            return std::nullopt;
        }
        ep.abstract = true;
        ep.host = std::string(rest);
        return ep;
    }
    if (rest.empty() || rest.front() != '/') {
        error = "UNIX socket path in " + quote(whole) + " must be absolute (unix:/path or unix:@name)";
        return std::nullopt;
    }
    if (rest.size() > 1 && rest[1] == '/') {
        std::size_t first = rest.find_first_not_of('/');
        std::string hint = first == std::string_view::npos ? "/" : "/" + std::string(rest.substr(first));
        error = "UNIX socket path in " + quote(whole) + " starts with \"//\"; did you mean " +
                quote("unix:" + hint) + "?";
        return std::nullopt;
    }
    if (rest.size() > k_sun_path_size - 1) {
        error = "UNIX socket path in " + quote(whole) + " is longer than " +
                std::to_string(k_sun_path_size - 1) + " bytes";
        return std::nullopt;
    }
    ep.host = std::string(rest);
    return ep;
}

}  // namespace

std::string SockAddr::host() const {
    if (family() == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        return v4_text(reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr);
    }
    if (family() == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        return v6_text(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr);
    }
    return {};
}

std::uint16_t SockAddr::port() const {
    if (family() == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    }
    if (family() == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    }
    return 0;
}

std::string SockAddr::to_string() const {
    if (family() == AF_INET) return host() + ":" + std::to_string(port());
    if (family() == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) return host() + ":" + std::to_string(port());
        return "[" + host() + "]:" + std::to_string(port());
    }
    if (family() == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
        auto path_offset = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
        if (length <= path_offset) return "unix";
        std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(length - path_offset), k_sun_path_size);
        if (un->sun_path[0] == '\0') return "unix:@" + std::string(un->sun_path + 1, n - 1);
        return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, n));
    }
    return "unknown";
}

SockAddr SockAddr::from(const sockaddr* sa, socklen_t len) {
    SockAddr out;
    if (sa == nullptr) return out;
    auto n = std::min<std::size_t>(static_cast<std::size_t>(len), sizeof out.storage);
    std::memcpy(&out.storage, sa, n);
    out.length = static_cast<socklen_t>(n);
    return out;
}

bool operator==(const SockAddr& a, const SockAddr& b) {
    if (a.family() != b.family()) return false;
    switch (a.family()) {
        case AF_INET: {
            const auto* x = reinterpret_cast<const sockaddr_in*>(&a.storage);
            const auto* y = reinterpret_cast<const sockaddr_in*>(&b.storage);
            return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        case AF_INET6: {
            const auto* x = reinterpret_cast<const sockaddr_in6*>(&a.storage);
            const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.storage);
            return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
                   std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
        }
        default:
            return a.length == b.length &&
                   std::memcmp(&a.storage, &b.storage, static_cast<std::size_t>(a.length)) == 0;
    }
}

std::optional<SockAddr> Endpoint::literal_address() const {
    if (transport == Transport::unix_stream) {
        sockaddr_un un{};
        un.sun_family = AF_UNIX;
        if (host.size() > k_sun_path_size - 1) return std::nullopt;
        std::size_t n = host.size();
        if (abstract) {
            std::memcpy(un.sun_path + 1, host.data(), n);
            n += 1;  // the leading NUL; abstract names are not NUL-terminated
        } else {
            std::memcpy(un.sun_path, host.data(), n);
            n += 1;  // the terminating NUL
        }
        return SockAddr::from(reinterpret_cast<const sockaddr*>(&un),
                              static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n));
    }
    if (any) {
        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        in6.sin6_addr = in6addr_any;
        in6.sin6_port = htons(port);
        return SockAddr::from(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
    }
    sockaddr_in in{};
    if (inet_pton(AF_INET, host.c_str(), &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        return SockAddr::from(reinterpret_cast<const sockaddr*>(&in), sizeof in);
    }
    sockaddr_in6 in6{};
    if (inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(port);
        return SockAddr::from(reinterpret_cast<const sockaddr*>(&in6), sizeof in6);
    }
    return std::nullopt;
}

std::string Endpoint::to_string() const {
    if (transport == Transport::unix_stream) return (abstract ? "unix:@" : "unix:") + host;
    std::string out = transport == Transport::tcp ? "tcp://" : "udp://";
    if (any) {
        out += "*";
    } else if (host.find(':') != std::string::npos) {
        out += "[" + host + "]";
    } else {
        out += host;
    }
    return out + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error, bool allow_names) {
    const std::string_view whole = text;
    if (text.empty()) {
        error = "empty address; expected tcp://HOST:PORT, udp://HOST:PORT, unix:/path or unix:@name";
        return std::nullopt;
    }
    if (text.starts_with("unix:")) return parse_unix(text.substr(5), whole, error);

    Endpoint ep;
    std::size_t scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) {
        bool looks_like_address = (std::isdigit(static_cast<unsigned char>(text[0])) != 0 ||
                                                    text[0] == '[' || text[0] == '*');
        if (text.front() == '/') {
            error = "missing scheme in " + quote(whole) + "; did you mean " + quote("unix:" + std::string(text)) + "?";
        } else if (looks_like_address) {
            error = "missing scheme in " + quote(whole) + "; did you mean " + quote("tcp://" + std::string(text)) + "?";
        } else {
            error = "invalid address " + quote(whole) +
                    "; expected tcp://HOST:PORT, udp://HOST:PORT, unix:/path or unix:@name";
        }
        return std::nullopt;
    }
    std::string_view scheme = text.substr(0, scheme_end);
    if (scheme == "tcp") {
        ep.transport = Transport::tcp;
    } else if (scheme == "udp") {
        ep.transport = Transport::udp;
    } else {
        error = "unknown address scheme " + quote(scheme) +
                "; expected tcp://HOST:PORT, udp://HOST:PORT, unix:/path or unix:@name";
        return std::nullopt;
    }
    std::string_view rest = text.substr(scheme_end + 3);
    std::string_view host;
    std::string_view port;
    bool bracketed = false;
    if (!rest.empty() && rest.front() == '[') {
        std::size_t close = rest.find(']');
        if (close == std::string_view::npos) {
            error = "missing \"]\" after the IPv6 address in " + quote(whole);
            return std::nullopt;
        }
        host = rest.substr(1, close - 1);
        std::string_view after = rest.substr(close + 1);
        if (after.empty()) {
            error = "missing port in " + quote(whole) + " (expected " + std::string(scheme) + "://[ADDRESS]:PORT)";
            return std::nullopt;
        }
        if (after.front() != ':') {
            error = "unexpected " + quote(after) + " after the IPv6 address in " + quote(whole);
            return std::nullopt;
        }
        port = after.substr(1);
        bracketed = true;
    } else {
        std::size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            error = "missing port in " + quote(whole) + " (expected " + std::string(scheme) + "://HOST:PORT)";
            return std::nullopt;
        }
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            error = "IPv6 addresses must be in brackets: " +
                    quote(std::string(scheme) + "://[" + std::string(host) + "]:" + std::string(port));
            return std::nullopt;
        }
    }
    if (host.empty()) {
        error = "missing host in " + quote(whole) + "; use \"*\" for all interfaces";
        return std::nullopt;
    }
    auto port_number = parse_port(port, whole, error);
    if (!port_number) return std::nullopt;
    ep.port = *port_number;

    in_addr v4{};
    in6_addr v6{};
    if (bracketed) {
        if (host.find('%') != std::string_view::npos) {
            error = "IPv6 zone ids are not supported (" + quote(whole) + ")";
            return std::nullopt;
        }
        if (inet_pton(AF_INET6, std::string(host).c_str(), &v6) != 1) {
            error = "invalid IPv6 address " + quote(host) + " in " + quote(whole);
            return std::nullopt;
        }
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(AF_INET6, &v6, buf, sizeof buf);
        ep.host = buf;
        return ep;
    }
    if (host == "*") {
        ep.host = "*";
        ep.any = true;
        return ep;
    }
    if (inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1) {
        ep.host = v4_text(v4);
        return ep;
    }
    bool numeric = std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (numeric) {
        error = "invalid IPv4 address " + quote(host) + " in " + quote(whole);
        return std::nullopt;
    }
    if (!is_host_name(host)) {
        error = "invalid host " + quote(host) + " in " + quote(whole);
        return std::nullopt;
    }
    if (!allow_names) {
        error = "host names are not allowed here (" + quote(host) +
                "); use an IP address such as 127.0.0.1 or [::1], or \"*\" for all interfaces";
        return std::nullopt;
    }
    ep.host = std::string(host);
    return ep;
}

}  // namespace sb::net
