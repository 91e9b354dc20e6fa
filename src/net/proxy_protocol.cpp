// PROXY protocol headers for sending (see proxy_protocol.hpp).
#include "net/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace sb::net {
namespace {

// Address and port of an inet address, an IPv4-mapped IPv6 one reduced to
// IPv4. Family AF_UNSPEC for anything else.
struct Inet {
    int family = AF_UNSPEC;
    unsigned char addr[16]{};
    std::uint16_t port = 0;  // network byte order
};

Inet inet_of(const SockAddr& a) {
    Inet out;
    if (a.family() == AF_INET && a.length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
        out.family = AF_INET;
        std::memcpy(out.addr, &in->sin_addr, 4);
        out.port = in->sin_port;
    } else if (a.family() == AF_INET6 && a.length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
        out.port = in6->sin6_port;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            out.family = AF_INET;
            std::memcpy(out.addr, in6->sin6_addr.s6_addr + 12, 4);
        } else {
            out.family = AF_INET6;
            std::memcpy(out.addr, &in6->sin6_addr, 16);
        }
    }
    return out;
}

std::string text_of(const Inet& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(a.family, a.addr, buf, sizeof buf);
    return buf;
}

void put16(std::string& out, std::uint16_t host_order) {
    out.push_back(static_cast<char>(host_order >> 8));
    out.push_back(static_cast<char>(host_order & 0xff));
}

// A UNIX address as the 108 bytes of sun_path (zeros for an unnamed peer;
// an abstract name keeps its leading NUL).
void put_unix_path(std::string& out, const SockAddr& a) {
    char path[sizeof(sockaddr_un::sun_path)] = {};
    const auto offset = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
    if (a.family() == AF_UNIX && a.length > offset) {
        std::size_t n = std::min<std::size_t>(static_cast<std::size_t>(a.length - offset), sizeof path);
        std::memcpy(path, reinterpret_cast<const sockaddr_un*>(&a.storage)->sun_path, n);
    }
    out.append(path, sizeof path);
}

}  // namespace

std::string proxy_v1_header(const SockAddr& client, const SockAddr& local) {
    Inet src = inet_of(client);
    Inet dst = inet_of(local);
    if (src.family == AF_UNSPEC || src.family != dst.family) return "PROXY UNKNOWN\r\n";
    return std::string("PROXY ") + (src.family == AF_INET ? "TCP4 " : "TCP6 ") + text_of(src) + " " + text_of(dst) +
           " " + std::to_string(ntohs(src.port)) + " " + std::to_string(ntohs(dst.port)) + "\r\n";
}

std::string proxy_v2_header(const SockAddr& client, const SockAddr& local) {
    std::string out(k_proxy_v2_signature, sizeof k_proxy_v2_signature);
    out.push_back('\x21');  // version 2, command PROXY
    Inet src = inet_of(client);
    Inet dst = inet_of(local);
    if (client.family() == AF_UNIX && local.family() == AF_UNIX) {
        out.push_back('\x31');  // UNIX, stream
        put16(out, 2 * sizeof(sockaddr_un::sun_path));
        put_unix_path(out, client);
        put_unix_path(out, local);
    } else if (src.family != AF_UNSPEC && src.family == dst.family) {
        const std::size_t size = src.family == AF_INET ? 4 : 16;
        out.push_back(src.family == AF_INET ? '\x11' : '\x21');  // TCP over IPv4 / IPv6
        put16(out, static_cast<std::uint16_t>(2 * size + 4));
        out.append(reinterpret_cast<const char*>(src.addr), size);
        out.append(reinterpret_cast<const char*>(dst.addr), size);
        out.append(reinterpret_cast<const char*>(&src.port), 2);
        out.append(reinterpret_cast<const char*>(&dst.port), 2);
    } else {
        out.push_back('\x00');  // UNSPEC: the receiver uses the connection's addresses
        put16(out, 0);
    }
    return out;
}

}  // namespace sb::net
