// Admission decisions and the counts behind them.
#include "server/admission.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sb::server {

namespace {

constexpr unsigned k_v4_offset = 96;  // IPv4 lives in the last 32 of 128 bits (net/cidr.hpp)

const config::Admission& default_admission() {
    static const config::Admission settings;
    return settings;
}

Decision rejected(RejectReason reason) { return Decision{reason, {}}; }

template <typename T>
bool contains(const std::vector<T>& list, T value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

}  // namespace

// ---- allow/deny ------------------------------------------------------------

AccessList::AccessList(const std::vector<net::Cidr>& allow, const std::vector<net::Cidr>& deny)
    : allow_unmatched_(allow.empty()) {
    rules_.reserve(allow.size() + deny.size());
    for (const auto& c : deny) rules_.push_back({c, false});
    for (const auto& c : allow) rules_.push_back({c, true});
    // The first match in this order is the most specific one, deny winning a tie.
    std::stable_sort(rules_.begin(), rules_.end(), [](const Rule& a, const Rule& b) {
        if (a.prefix.bits != b.prefix.bits) return a.prefix.bits > b.prefix.bits;
        return !a.allow && b.allow;
    });
}

bool AccessList::allows(const net::IpAddress& ip) const {
    for (const Rule& rule : rules_) {
        if (rule.prefix.contains(ip)) return rule.allow;
    }
    return allow_unmatched_;
}


bool credentials_allowed(const config::Admission& admission, const PeerCredentials& peer) {
    if (admission.peer_uids.empty() && admission.peer_gids.empty()) return true;
    if (contains(admission.peer_uids, peer.uid)) return true;
    if (contains(admission.peer_gids, peer.gid)) return true;
    return std::any_of(peer.groups.begin(), peer.groups.end(),
                       [&](gid_t g) { return contains(admission.peer_gids, g); });
}

// ---- server-wide counts --------------------------------------------------------

void GlobalAdmission::configure(const config::Limits& limits) {
    bool connections_were_full = connections_full();
    bool children_were_full = children_full();
    limits_ = limits;
    note_change(connections_were_full, children_were_full);
}

void GlobalAdmission::add_connections(int delta) {
    bool connections_were_full = connections_full();
    bool children_were_full = children_full();
    if (delta < 0 && connections_ == 0) return;
    connections_ = static_cast<std::uint32_t>(static_cast<std::int64_t>(connections_) + delta);
    note_change(connections_were_full, children_were_full);
}

void GlobalAdmission::add_children(int delta) {
    bool connections_were_full = connections_full();
    bool children_were_full = children_full();
    if (delta < 0 && children_ == 0) return;
    children_ = static_cast<std::uint32_t>(static_cast<std::int64_t>(children_) + delta);
    note_change(connections_were_full, children_were_full);
}

void GlobalAdmission::note_change(bool connections_were_full, bool children_were_full) {
    if (connections_were_full != connections_full() || children_were_full != children_full()) {
        full_changed_ = true;
    }
}

// ---- one service -----------------------------------------------------------------

ServiceAdmission::ServiceAdmission(std::size_t max_idle_sources)
    : sources_(0, IpHash::seeded(this)), max_idle_sources_(max_idle_sources) {}

const config::Admission& ServiceAdmission::settings() const {
    return service_ ? service_->admission : default_admission();
}

void ServiceAdmission::configure(std::shared_ptr<const config::Service> service, std::uint64_t now, bool spawns_children) {
    config::Rate old_rate = settings().rate;
    config::Rate old_source_rate = settings().source_rate;
    service_ = std::move(service);
    const auto& a = settings();
    access_ = AccessList(a.allow, a.deny);
    spawns_children_ = spawns_children;
    // A rate that was off has an empty bucket; a reload must not start it empty.
    if (!old_rate.enabled() && a.rate.enabled()) {
        connection_rate_ = TokenBucket(a.rate, now);
        datagram_rate_ = TokenBucket(a.rate, now);
    }
    if (!old_source_rate.enabled() && a.source_rate.enabled()) {
        for (auto& [key, source] : sources_) source.bucket = TokenBucket(a.source_rate, now);
    }
    // Answers to one datagram source are bounded by default for built-ins
    // (README "Security"): a loop through another host, or amplification
    // (chargen answers 1 byte with up to 512), stays slow.
    config::Rate datagram_source_rate = a.source_rate;
    if (!datagram_source_rate.enabled() && service_ && service_->builtin() != nullptr) {
        datagram_source_rate = config::k_builtin_datagram_source_rate;
    }
    if (datagram_source_rate != datagram_source_rate_) datagram_sources_.clear();
    datagram_source_rate_ = datagram_source_rate;
}

bool ServiceAdmission::tracks_sources() const {
    const auto& a = settings();
    return a.per_source != config::k_unlimited || a.source_rate.enabled();
}

net::IpAddress ServiceAdmission::source_key(const net::IpAddress& ip) const {
    const auto& a = settings();
    if (ip.is_v4()) return ip.masked(k_v4_offset + std::min(a.source_prefix_v4, 32U));
    return ip.masked(std::min(a.source_prefix_v6, 128U));
}

bool ServiceAdmission::connections_full(const GlobalAdmission& global) const {
    const auto& a = settings();
    return (a.max_connections != config::k_unlimited && active_ >= a.max_connections) || global.connections_full();
}

bool ServiceAdmission::children_full(const GlobalAdmission& global) const {
    const auto& a = settings();
    return (a.max_children != config::k_unlimited && children_ >= a.max_children) || global.children_full();
}

Decision ServiceAdmission::admit(GlobalAdmission& global, const net::SockAddr& peer, int fd, std::uint64_t now) {
    const auto& a = settings();
    std::optional<PeerCredentials> credentials;
    bool wants_credentials = !a.peer_uids.empty() || !a.peer_gids.empty();
    if (wants_credentials && peer.family() == AF_UNIX) credentials = peer_credentials(fd, !a.peer_gids.empty());
    return admit(global, peer, credentials, now);
}

Decision ServiceAdmission::admit(GlobalAdmission& global, const net::SockAddr& peer,
                                 const std::optional<PeerCredentials>& credentials, std::uint64_t now) {
    const auto& a = settings();
    auto ip = net::IpAddress::from(peer);

    // Who: CIDR lists for IP peers, credentials for UNIX peers.
    if (ip) {
        if (!access_.allows(*ip)) return rejected(RejectReason::denied);
    } else if (!a.peer_uids.empty() || !a.peer_gids.empty()) {
        if (!credentials || !credentials_allowed(a, *credentials)) return rejected(RejectReason::denied);
    }

    // How many.
    if (connections_full(global)) return rejected(RejectReason::max_connections);
    bool track = ip && tracks_sources();
    net::IpAddress key;
    Source* source = nullptr;
    if (track) {
        key = source_key(*ip);
        if (auto it = sources_.find(key); it != sources_.end()) source = &it->second;
        if (a.per_source != config::k_unlimited && source != nullptr && source->connections >= a.per_source) {
            return rejected(RejectReason::per_source);
        }
    }

    // How fast. Every bucket is checked before any is charged, so a source
    // refused by its own rate does not spend the service's tokens.
    if (!connection_rate_.has_token(a.rate, now)) return rejected(RejectReason::rate);
    if (source != nullptr && !source->bucket.has_token(a.source_rate, now)) return rejected(RejectReason::rate);

    // What it will cost: a child, for exec services.
    if (spawns_children_ && children_full(global)) return rejected(RejectReason::max_children);

    connection_rate_.take(a.rate);
    if (track) {
        if (source == nullptr) {
            source = &sources_.try_emplace(key, Source{0, TokenBucket(a.source_rate, now)}).first->second;
        } else if (source->connections == 0) {
            --idle_sources_;
        }
        ++source->connections;
        source->bucket.take(a.source_rate);
    }
    ++active_;
    global.add_connections(1);
    return Decision{std::nullopt, AdmissionTicket{key, track}};
}

void ServiceAdmission::release(GlobalAdmission& global, const AdmissionTicket& ticket, std::uint64_t now) {
    if (active_ > 0) --active_;
    global.add_connections(-1);
    if (!ticket.counted_source) return;
    auto it = sources_.find(ticket.source);
    if (it == sources_.end() || it->second.connections == 0) return;
    if (--it->second.connections != 0) return;
    if (it->second.bucket.full(settings().source_rate, now)) {
        sources_.erase(it);
        return;
    }
    ++idle_sources_;
    // Forget down to half the cap, so the cost of a pass is shared by the
    // many releases that follow it.
    if (idle_sources_ > max_idle_sources_) forget_idle(now, max_idle_sources_ / 2);
}

std::optional<RejectReason> ServiceAdmission::admit_datagram(const net::SockAddr& peer, std::uint64_t now) {
    auto ip = net::IpAddress::from(peer);
    if (ip && !access_.allows(*ip)) return RejectReason::denied;
    // The source's bucket first, so a source over its rate does not spend
    // the service's tokens.
    net::IpAddress key = ip ? source_key(*ip) : net::IpAddress{};
    if (ip && !datagram_sources_.has_token(key, datagram_source_rate_, now)) return RejectReason::rate;
    if (!datagram_rate_.try_take(settings().rate, now)) return RejectReason::rate;
    if (ip) datagram_sources_.take(key, datagram_source_rate_, now);
    return std::nullopt;
}

void ServiceAdmission::child_started(GlobalAdmission& global) {
    ++children_;
    global.add_children(1);
}

void ServiceAdmission::child_exited(GlobalAdmission& global) {
    if (children_ > 0) --children_;
    global.add_children(-1);
}

bool ServiceAdmission::should_pause(const GlobalAdmission& global) const {
    if (settings().on_limit != config::OnLimit::pause) return false;
    return connections_full(global) || (spawns_children_ && children_full(global));
}

void ServiceAdmission::prune(std::uint64_t now) { forget_idle(now, max_idle_sources_); }

void ServiceAdmission::forget_idle(std::uint64_t now, std::size_t keep) {
    if (idle_sources_ == 0) return;
    const auto& rate = settings().source_rate;
    // First those a fresh entry would equal, then, if still too many, any
    // idle ones: they come back with a full bucket, a small price for a
    // table that cannot grow without bound.
    for (int pass = 0; pass < 2 && idle_sources_ > (pass == 0 ? 0 : keep); ++pass) {
        for (auto it = sources_.begin(); it != sources_.end();) {
            bool idle = it->second.connections == 0;
            if (idle && (pass == 1 || it->second.bucket.full(rate, now))) {
                it = sources_.erase(it);
                --idle_sources_;
                if (pass == 1 && idle_sources_ <= keep) break;
            } else {
                ++it;
            }
        }
    }
}

void ServiceAdmission::log_reject(const net::SockAddr& peer, RejectReason reason, std::uint64_t now) {
    reject_log_.rejected(service_ ? std::string_view(service_->name) : std::string_view("-"), peer, reason, now);
}

void ServiceAdmission::flush_log(std::uint64_t now) {
    reject_log_.flush(service_ ? std::string_view(service_->name) : std::string_view("-"), now);
}

std::uint32_t ServiceAdmission::source_connections(const net::SockAddr& peer) const {
    auto ip = net::IpAddress::from(peer);
    if (!ip) return 0;
    auto it = sources_.find(source_key(*ip));
    return it == sources_.end() ? 0 : it->second.connections;
}

}  // namespace sb::server
