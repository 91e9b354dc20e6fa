// The server's own UDP addresses (see own_addresses.hpp).
#include "server/own_addresses.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>

namespace sb::server {
namespace {

// 127.0.0.0/8 (stored v4-mapped) and ::1: the host's whatever the interfaces say.
bool is_loopback(const net::IpAddress& ip) {
    static const net::IpAddress v6_loopback = *net::IpAddress::parse("::1");
    if (ip.is_v4()) return ip.bytes[12] == 127;
    return ip == v6_loopback;
}

}  // namespace

OwnAddresses::OwnAddresses() : OwnAddresses(&OwnAddresses::interface_addresses) {}

OwnAddresses::OwnAddresses(HostAddresses host_addresses) : lookup_(std::move(host_addresses)) {}

std::vector<net::IpAddress> OwnAddresses::interface_addresses() {
    std::vector<net::IpAddress> out;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return out;
    for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
        if (i->ifa_addr == nullptr) continue;
        int family = i->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6) continue;
        socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
        if (auto ip = net::IpAddress::from(net::SockAddr::from(i->ifa_addr, len))) out.push_back(*ip);
    }
    ::freeifaddrs(list);
    return out;
}

void OwnAddresses::set_listeners(const std::vector<net::SockAddr>& bound) {
    bound_.clear();
    ports_.clear();
    for (const auto& addr : bound) {
        auto ip = net::IpAddress::from(addr);
        if (!ip) continue;
        bound_.push_back(Bound{*ip, addr.port()});
        ports_.insert(addr.port());
    }
    looked_up_ = false;  // interfaces may have changed too
}

bool OwnAddresses::is_host_address(const net::IpAddress& ip, std::uint64_t now) {
    if (is_loopback(ip)) return true;
    if (!looked_up_ || now - looked_up_at_ >= k_refresh_ms) {
        host_ = lookup_ ? lookup_() : std::vector<net::IpAddress>{};
        looked_up_ = true;
        looked_up_at_ = now;
    }
    return std::find(host_.begin(), host_.end(), ip) != host_.end();
}

bool OwnAddresses::contains(const net::SockAddr& source, std::uint64_t now) {
    if (ports_.empty()) return false;
    auto ip = net::IpAddress::from(source);
    if (!ip || !ports_.contains(source.port())) return false;
    for (const Bound& b : bound_) {
        if (b.port == source.port() && b.address == *ip) return true;
    }
    return is_host_address(*ip, now);
}

}  // namespace sb::server
