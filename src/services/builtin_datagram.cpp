// UDP built-ins (see builtin_datagram.hpp).
#include "services/builtin_datagram.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "services/builtin_protocols.hpp"
#include "services/scratch.hpp"

namespace sb::services {

bool looks_like_reflection(const net::SockAddr& peer) {
    if (peer.family() != AF_INET && peer.family() != AF_INET6) return false;
    if (peer.port() < 1024) return true;
    const sockaddr* sa = peer.get();
    std::uint32_t v4 = 0;
    bool is_v4 = false;
    if (sa->sa_family == AF_INET) {
        v4 = ntohl(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
        is_v4 = true;
    } else {
        const auto& a6 = reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
        if (IN6_IS_ADDR_MULTICAST(&a6)) return true;
        if (IN6_IS_ADDR_V4MAPPED(&a6)) {
            std::memcpy(&v4, a6.s6_addr + 12, 4);
            v4 = ntohl(v4);
            is_v4 = true;
        }
    }
    if (is_v4) {
        if ((v4 >> 28) == 0xE) return true;       // 224.0.0.0/4 multicast
        if (v4 == 0xFFFFFFFFu) return true;       // limited broadcast
        if ((v4 >> 24) == 0) return true;         // 0.0.0.0/8
    }
    return false;
}

namespace {

// RFC 864 (UDP): a random number of characters, 0 to 512, from the pattern.
std::size_t chargen_reply(char* out) {
    static std::minstd_rand rng(static_cast<unsigned>(std::time(nullptr)));
    static std::size_t line = 0;
    std::string_view pattern = chargen_pattern();
    std::size_t n = rng() % 513;
    std::size_t start = (line++ % 95) * k_chargen_line;
    for (std::size_t i = 0; i < n; ++i) out[i] = pattern[(start + i) % pattern.size()];
    return n;
}

}  // namespace

void serve_datagrams(int fd, config::Builtin kind, const AdmitDatagram& admit, DatagramStats& stats,
                     int budget) {
    auto buf = scratch_buffer();
    char reply[600];
    for (int i = 0; i < budget; ++i) {
        net::SockAddr peer;
        peer.length = sizeof peer.storage;
        ssize_t n = ::recvfrom(fd, buf.data(), buf.size(), MSG_DONTWAIT, peer.get(), &peer.length);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN, or an ICMP error queued on the socket: nothing more now
        }
        ++stats.received;
        stats.bytes_in += static_cast<std::uint64_t>(n);
        if (admit && !admit(peer)) {
            ++stats.refused;
            continue;
        }
        const char* data = nullptr;
        std::size_t len = 0;
        std::string text;
        std::time_t now = std::time(nullptr);
        switch (kind) {
            case config::Builtin::echo:
                data = buf.data();
                len = static_cast<std::size_t>(n);
                break;
            case config::Builtin::discard: continue;
            case config::Builtin::tcpmux: continue;  // TCP only (the configuration refuses UDP)
            case config::Builtin::chargen:
                len = chargen_reply(reply);
                data = reply;
                break;
            case config::Builtin::daytime:
                text = daytime_text(now);
                data = text.data();
                len = text.size();
                break;
            case config::Builtin::time: {
                auto b = time_bytes(now);
                std::memcpy(reply, b.data(), b.size());
                data = reply;
                len = b.size();
                break;
            }
        }
        ssize_t w = ::sendto(fd, data, len, MSG_DONTWAIT, peer.get(), peer.length);
        if (w >= 0) {
            ++stats.answered;
            stats.bytes_out += static_cast<std::uint64_t>(w);
        }
    }
}

}  // namespace sb::services
