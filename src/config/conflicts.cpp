// Two listeners on one address would fail at bind time, after the old
// configuration is gone; find them while loading instead.
#include <map>
#include <tuple>

#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

namespace {

// What part of the address space a tcp/udp listener takes on its port.
struct Coverage {
    enum class Kind : std::uint8_t { all, all_v4, all_v6, one } kind = Kind::one;
    net::IpAddress address;  // for Kind::one

    [[nodiscard]] bool v4() const { return kind == Kind::all_v4 || (kind == Kind::one && address.is_v4()); }
};

Coverage coverage_of(const Listen& listen) {
    const auto& ep = listen.endpoint;
    Coverage c;
    if (ep.any) {
        c.kind = Coverage::Kind::all;  // "*" is dual-stack
        return c;
    }
    auto ip = net::IpAddress::parse(ep.host);
    if (!ip) return c;
    c.address = *ip;
    if (*ip == net::IpAddress{}) {
        // "::" takes IPv4 too unless it is v6only (the kernel default is dual-stack).
        c.kind = listen.options.v6only.value_or(false) ? Coverage::Kind::all_v6 : Coverage::Kind::all;
    } else if (ip->is_v4() && ip->masked(96) == *ip) {
        c.kind = Coverage::Kind::all_v4;  // 0.0.0.0
    }
    return c;
}

bool overlap(const Coverage& a, const Coverage& b) {
    using K = Coverage::Kind;
    if (a.kind == K::all || b.kind == K::all) return true;
    if (a.kind == K::all_v4 || b.kind == K::all_v4) return a.v4() && b.v4();
    if (a.kind == K::all_v6 || b.kind == K::all_v6) return !a.v4() && !b.v4();
    return a.address == b.address;
}

bool conflict(const Listen& a, const Listen& b) {
    if (a.endpoint.transport == net::Transport::unix_stream) {
        return a.endpoint.abstract == b.endpoint.abstract && a.endpoint.host == b.endpoint.host;
    }
    return overlap(coverage_of(a), coverage_of(b));
}

std::string where(const Node& node) {
    TextPosition at = node.value_position();
    std::string out = node.document().path;
    if (at.line > 0) out += ":" + std::to_string(at.line) + ":" + std::to_string(at.column);
    return out;
}

std::string owner(const ListenSite& site) {
    return site.service.empty() ? std::string("the metrics listener") : "service " + net::quote(site.service);
}

}  // namespace

void check_conflicts(const std::vector<ListenSite>& sites) {
    // Only listeners of one transport and port (or one UNIX name) can clash;
    // grouping first keeps a thousand services cheap.
    using Bucket = std::tuple<net::Transport, std::uint16_t, std::string>;
    std::map<Bucket, std::vector<const ListenSite*>> buckets;
    for (const ListenSite& site : sites) {
        const auto& ep = site.listen.endpoint;
        bool is_unix = ep.transport == net::Transport::unix_stream;
        auto& bucket = buckets[Bucket{ep.transport, ep.port, is_unix ? (ep.abstract ? "@" : "") + ep.host : ""}];
        for (const ListenSite* earlier : bucket) {
            if (!conflict(earlier->listen, site.listen)) continue;
            std::string message = site.listen.endpoint.to_string();
            if (earlier->service == site.service) {
                message += " conflicts with " + earlier->listen.endpoint.to_string() + ", listed earlier in service " +
                           net::quote(site.service);
            } else {
                message += " of " + owner(site) + " conflicts with " + earlier->listen.endpoint.to_string() + " of " +
                           owner(*earlier) +
                           " (" + where(earlier->node) + ")";
            }
            site.node.error(std::move(message));
            break;
        }
        bucket.push_back(&site);
    }
}

}  // namespace sb::config
