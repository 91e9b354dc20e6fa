// Listing an accept queue through sock_diag (see accept_queue.hpp).
#include "net/accept_queue.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "switchboard/fd.hpp"

namespace sb::net {
namespace {

std::string peer_text(int family, const __be32* address, __be16 port) {
    char text[INET6_ADDRSTRLEN] = "";
    ::inet_ntop(family, address, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(port));
}

// A sock_diag request: the netlink header, then the family's request.
template <typename Request>
struct DiagMessage {
    nlmsghdr header{};
    Request request{};

    explicit DiagMessage(std::uint16_t flags) {
        header.nlmsg_len = sizeof *this;
        header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
        header.nlmsg_flags = flags;
    }
};

Fd diag_socket() { return Fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)); }

bool send_to_kernel(const Fd& diag, const void* message, std::size_t size) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    return ::sendto(diag.get(), message, size, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0;
}

// A UNIX listener's queue: unix_diag names, for each connection not yet
// accepted, the inode of the client's socket (UNIX_DIAG_ICONS).
std::optional<std::set<std::string>> waiting_unix_peers(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::nullopt;
    DiagMessage<unix_diag_req> message(NLM_F_REQUEST);  // one socket, by inode
    message.request.sdiag_family = AF_UNIX;
    message.request.udiag_states = 1u << TCP_LISTEN;
    message.request.udiag_ino = static_cast<__u32>(st.st_ino);
    message.request.udiag_show = UDIAG_SHOW_ICONS;
    message.request.udiag_cookie[0] = message.request.udiag_cookie[1] = INET_DIAG_NOCOOKIE;

    Fd diag = diag_socket();
    if (!diag || !send_to_kernel(diag, &message, sizeof message)) return std::nullopt;
    alignas(nlmsghdr) std::array<char, 16384> buffer{};
    ssize_t n;
    do {
        n = ::recv(diag.get(), buffer.data(), buffer.size(), 0);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return std::nullopt;
    auto* h = reinterpret_cast<nlmsghdr*>(buffer.data());
    auto left = static_cast<unsigned>(n);
    if (!NLMSG_OK(h, left) || h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
        h->nlmsg_len < NLMSG_LENGTH(sizeof(unix_diag_msg))) {
        return std::nullopt;  // NLMSG_ERROR: not a listening UNIX socket, or no unix_diag
    }
    const auto* m = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
    if (m->udiag_ino != message.request.udiag_ino) return std::nullopt;
    std::set<std::string> peers;
    auto attributes_length = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(unix_diag_msg)));
    for (auto* a = reinterpret_cast<const rtattr*>(m + 1); RTA_OK(a, attributes_length);
         a = RTA_NEXT(a, attributes_length)) {
        if (a->rta_type != UNIX_DIAG_ICONS) continue;
        const auto* inodes = static_cast<const __u32*>(RTA_DATA(a));
        for (std::size_t i = 0; i < RTA_PAYLOAD(a) / sizeof(__u32); ++i) {
            peers.insert("ino:" + std::to_string(inodes[i]));
        }
        return peers;
    }
    return std::nullopt;  // a kernel that did not list them
}

}  // namespace

std::optional<std::uint32_t> accept_queue_length(int fd) {
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return std::nullopt;
    // For a listener the kernel reports its accept queue as "unacked".
    if (info.tcpi_state != TCP_LISTEN) return std::nullopt;
    return info.tcpi_unacked;
}

std::optional<std::set<std::string>> waiting_peers(int fd) {
    sockaddr_storage local{};
    socklen_t length = sizeof local;
    int type = 0;
    socklen_t type_length = sizeof type;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) return std::nullopt;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_length) != 0 || type != SOCK_STREAM) return std::nullopt;
    if (local.ss_family == AF_UNIX) return waiting_unix_peers(fd);
    if (local.ss_family != AF_INET && local.ss_family != AF_INET6) return std::nullopt;

    DiagMessage<inet_diag_req_v2> message(NLM_F_REQUEST | NLM_F_DUMP);
    message.request.sdiag_family = static_cast<__u8>(local.ss_family);
    message.request.sdiag_protocol = IPPROTO_TCP;
    // A peer that gave up waiting has closed its side: CLOSE_WAIT, still queued.
    message.request.idiag_states = (1u << TCP_ESTABLISHED) | (1u << TCP_CLOSE_WAIT);
    const void* local_address = nullptr;
    std::size_t address_size = 0;
    if (local.ss_family == AF_INET) {
        const auto& sin = reinterpret_cast<const sockaddr_in&>(local);
        message.request.id.idiag_sport = sin.sin_port;
        local_address = &sin.sin_addr;
        address_size = sizeof sin.sin_addr;
    } else {
        const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(local);
        message.request.id.idiag_sport = sin6.sin6_port;
        local_address = &sin6.sin6_addr;
        address_size = sizeof sin6.sin6_addr;
    }
    bool any_address = true;
    for (std::size_t i = 0; i < address_size; ++i) {
        if (static_cast<const unsigned char*>(local_address)[i] != 0) any_address = false;
    }

    Fd diag = diag_socket();
    if (!diag || !send_to_kernel(diag, &message, sizeof message)) return std::nullopt;
    std::set<std::string> peers;
    alignas(nlmsghdr) std::array<char, 16384> buffer{};
    // The kernel answers at once; a dump that does not end is cut off.
    for (int round = 0; round < 4096; ++round) {
        ssize_t n = ::recv(diag.get(), buffer.data(), buffer.size(), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;
        auto* h = reinterpret_cast<nlmsghdr*>(buffer.data());
        for (auto left = static_cast<unsigned>(n); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
            if (h->nlmsg_type == NLMSG_DONE) return peers;
            if (h->nlmsg_type == NLMSG_ERROR) return std::nullopt;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
            const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
            // Accepted by some process (its socket has an inode), or another port.
            if (m->idiag_inode != 0 || m->id.idiag_sport != message.request.id.idiag_sport) continue;
            if (!any_address && std::memcmp(m->id.idiag_src, local_address, address_size) != 0) continue;
            peers.insert(peer_text(m->idiag_family, m->id.idiag_dst, m->id.idiag_dport));
        }
    }
    return std::nullopt;
}

}  // namespace sb::net
