// Endpoints: the addresses switchboard listens on or forwards to, parsed
// from the configuration's URL-like spelling and rendered back for logs.
//
// An Endpoint is a plain value. It never resolves host names: listeners take
// literals only, and redirect targets keep their name for the connector to
// resolve asynchronously at connect time.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sb::net {

enum class Transport : std::uint8_t { tcp, udp, unix_stream };

// A socket address of any family we use, with its real length.
struct SockAddr {
    sockaddr_storage storage{};
    socklen_t length = 0;

    [[nodiscard]] int family() const { return storage.ss_family; }
    [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    [[nodiscard]] sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
    // Numeric host ("127.0.0.1", "::1"; v4-mapped IPv6 shown as IPv4),
    // empty for UNIX addresses.
    [[nodiscard]] std::string host() const;
    // Port in host byte order, 0 for UNIX addresses.
    [[nodiscard]] std::uint16_t port() const;
    // "127.0.0.1:7", "[::1]:7", "unix:/path", "unix:@name", "unix" (unnamed peer).
    [[nodiscard]] std::string to_string() const;

    static SockAddr from(const sockaddr* sa, socklen_t len);
    friend bool operator==(const SockAddr& a, const SockAddr& b);
};

struct Endpoint {
    Transport transport = Transport::tcp;
    // For tcp/udp: the literal host as configured ("127.0.0.1", "::1", "*",
    // or a name for redirect targets). For unix: the path, or the abstract
    // name without its '@'.
    std::string host;
    std::uint16_t port = 0;
    bool any = false;       // "*": all interfaces, dual-stack
    bool abstract = false;  // unix:@name

    // The bindable address when `host` is a literal (or `*`, which becomes
    // "::" dual-stack). Empty for names.
    [[nodiscard]] std::optional<SockAddr> literal_address() const;
    // The canonical spelling: "tcp://127.0.0.1:7", "udp://[::1]:7",
    // "tcp://*:9418", "unix:/run/x.sock", "unix:@name".
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] bool is_stream() const { return transport != Transport::udp; }

    friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Parses "tcp://HOST:PORT", "udp://HOST:PORT", "unix:/path", "unix:@name".
// HOST is an IPv4 literal, "[IPv6]", or "*". With allow_names, HOST may also
// be a DNS name (redirect targets). On failure returns nullopt and sets
// `error` to a sentence fit for a config error ("port 70000 is out of range
// 1-65535").
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error, bool allow_names = false);

}  // namespace sb::net
