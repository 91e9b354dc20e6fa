// Admission: whether a connection (or a datagram) may be served, and the
// counts behind that answer (DESIGN.md §4).
//
// A stream connection passes, cheapest first: the allow/deny lists (or, on
// a UNIX socket, the peer's uid/gid) → max_connections, the service's and
// the server's → per_source → rate → source_rate → max_children (exec
// services). The answer is a value: admitted, with a ticket to give back on
// release, or rejected with a reason. Nothing here touches a socket except
// to read a UNIX peer's credentials, and nothing is ever closed or disabled:
// what a limit does (pause the listener, or reject) is the server's to carry
// out, guided by should_pause().
//
// GlobalAdmission holds the server-wide counts (limits.max_connections,
// limits.max_children); the Server owns one. ServiceAdmission holds one
// service's counts, rate buckets and per-source table; its ServiceRuntime
// owns it, so it outlives a reload and drains with a removed service. Both
// are plain objects used from the loop thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "net/peer_credentials.hpp"
#include "server/ip_hash.hpp"
#include "server/log_limiter.hpp"
#include "server/reject_reason.hpp"
#include "server/source_buckets.hpp"
#include "server/token_bucket.hpp"
#include "switchboard/config.hpp"
#include "switchboard/net/cidr.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::server {

// allow/deny compiled for lookups: the most specific matching prefix
// decides; between an allow and a deny of the same length, deny. With no
// match, the peer is allowed only when the allow list is empty.
class AccessList {
public:
    AccessList() = default;
    AccessList(const std::vector<net::Cidr>& allow, const std::vector<net::Cidr>& deny);

    [[nodiscard]] bool allows(const net::IpAddress& ip) const;
    [[nodiscard]] bool empty() const { return rules_.empty(); }

private:
    struct Rule {
        net::Cidr prefix;
        bool allow = false;
    };
    std::vector<Rule> rules_;  // longest prefix first, deny before allow at equal length
    bool allow_unmatched_ = true;
};

// A UNIX-socket peer (net/peer_credentials.hpp).
using net::PeerCredentials;
using net::peer_credentials;

// peer_uids/peer_gids: with neither configured everyone passes; otherwise
// the uid must be listed in peer_uids, or the gid or one of the groups in
// peer_gids. Root is not special.
[[nodiscard]] bool credentials_allowed(const config::Admission& admission, const PeerCredentials& peer);

// The server-wide counts. Limits come from config::Limits on every apply.
class GlobalAdmission {
public:
    void configure(const config::Limits& limits);

    [[nodiscard]] std::uint32_t connections() const { return connections_; }
    [[nodiscard]] std::uint32_t children() const { return children_; }
    [[nodiscard]] bool connections_full() const {
        return limits_.max_connections != config::k_unlimited && connections_ >= limits_.max_connections;
    }
    [[nodiscard]] bool children_full() const {
        return limits_.max_children != config::k_unlimited && children_ >= limits_.max_children;
    }

    // True once after a server-wide limit became full or stopped being full
    // (by a connection, a child, or configure()): then every service's
    // pauses need a fresh look, not only the service at hand.
    [[nodiscard]] bool take_full_changed() {
        bool changed = full_changed_;
        full_changed_ = false;
        return changed;
    }

private:
    friend class ServiceAdmission;
    void add_connections(int delta);
    void add_children(int delta);
    void note_change(bool connections_were_full, bool children_were_full);

    config::Limits limits_;
    std::uint32_t connections_ = 0;
    std::uint32_t children_ = 0;
    bool full_changed_ = false;
};

// What admit() counted for a connection; release() takes it back. It holds
// the per-source key itself, so a reload that changes source_prefix still
// releases the entry the connection was counted in.
struct AdmissionTicket {
    net::IpAddress source;       // the masked peer address
    bool counted_source = false;  // counted in the per-source table
};

struct Decision {
    std::optional<RejectReason> rejected;  // nullopt: admitted
    AdmissionTicket ticket;                // valid when admitted

    [[nodiscard]] bool admitted() const { return !rejected.has_value(); }
};

class ServiceAdmission {
public:
    // Sources with no connection left whose rate bucket has not refilled
    // yet are remembered, up to this many; past it the table forgets some
    // (they get a full bucket when they return), so memory stays bounded
    // however many distinct clients come and go.
    static constexpr std::size_t k_default_max_idle_sources = 16384;

    explicit ServiceAdmission(std::size_t max_idle_sources = k_default_max_idle_sources);

    // Takes the service's (new) definition: at start and on every reload.
    // Counts, buckets and the per-source table carry over; a rate that was
    // off and is now on starts with a full bucket.
    // `spawns_children`: the service's kind starts children, so
    // max_children holds its connections back.
    void configure(std::shared_ptr<const config::Service> service, std::uint64_t now, bool spawns_children);

    // A stream connection from `peer`, accepted on `fd` (read only for a
    // UNIX peer's credentials when peer_uids/peer_gids are set). When
    // admitted, the connection is counted (service, server, source) and the
    // rate buckets are charged; keep the ticket for release().
    [[nodiscard]] Decision admit(GlobalAdmission& global, const net::SockAddr& peer, int fd, std::uint64_t now);
    // The same for a peer whose credentials are already known (nullopt: an
    // IP peer, or the kernel would not say).
    [[nodiscard]] Decision admit(GlobalAdmission& global, const net::SockAddr& peer,
                                 const std::optional<PeerCredentials>& credentials, std::uint64_t now);

    // The admitted connection ended.
    void release(GlobalAdmission& global, const AdmissionTicket& ticket, std::uint64_t now);

    // One datagram (a UDP built-in's, or the one that wakes a UDP wait
    // service): allow/deny, the per-source rate and the service's rate,
    // counted per datagram in buckets of their own. Nothing is counted as a
    // connection. The per-source rate is source_rate, or for a built-in
    // without one k_builtin_datagram_source_rate; its table has a fixed
    // size (SourceBuckets).
    [[nodiscard]] std::optional<RejectReason> admit_datagram(const net::SockAddr& peer, std::uint64_t now);

    // Children of an exec service, counted from spawn to exit, whether or
    // not their client is still there.
    void child_started(GlobalAdmission& global);
    void child_exited(GlobalAdmission& global);

    // max_connections (the service's or the server's) is reached.
    [[nodiscard]] bool connections_full(const GlobalAdmission& global) const;
    // max_children (the service's or the server's) is reached.
    [[nodiscard]] bool children_full(const GlobalAdmission& global) const;

    // True when the service's stream listeners should stop accepting:
    // on_limit is "pause" and max_connections (the service's or the
    // server's) is reached, or for an exec service max_children is.
    [[nodiscard]] bool should_pause(const GlobalAdmission& global) const;

    // Forgets sources with no connection whose bucket has refilled (from a
    // periodic timer; release() forgets most of them at once already).
    void prune(std::uint64_t now);

    // Writes a "reject" log line, rate-limited per reason (RejectLog).
    void log_reject(const net::SockAddr& peer, RejectReason reason, std::uint64_t now);
    // Writes the summaries of suppressed reject lines whose window is over.
    void flush_log(std::uint64_t now);

    [[nodiscard]] std::uint32_t active() const { return active_; }
    [[nodiscard]] std::uint32_t children() const { return children_; }
    // Entries in the per-source table (for tests and the state dump).
    [[nodiscard]] std::size_t sources() const { return sources_.size(); }
    // Connections counted for the source group of `peer` (0 if none).
    [[nodiscard]] std::uint32_t source_connections(const net::SockAddr& peer) const;

private:
    struct Source {
        std::uint32_t connections = 0;
        TokenBucket bucket;
    };
    using SourceTable = std::unordered_map<net::IpAddress, Source, IpHash>;

    [[nodiscard]] const config::Admission& settings() const;
    [[nodiscard]] bool tracks_sources() const;
    [[nodiscard]] net::IpAddress source_key(const net::IpAddress& ip) const;
    void forget_idle(std::uint64_t now, std::size_t keep);

    std::shared_ptr<const config::Service> service_;
    AccessList access_;
    bool spawns_children_ = false;
    std::uint32_t active_ = 0;
    std::uint32_t children_ = 0;
    TokenBucket connection_rate_{config::Rate{}, 0};
    TokenBucket datagram_rate_{config::Rate{}, 0};
    config::Rate datagram_source_rate_;
    SourceBuckets datagram_sources_;
    SourceTable sources_;
    std::size_t idle_sources_ = 0;  // entries with no connection (their bucket is refilling)
    std::size_t max_idle_sources_;
    RejectLog reject_log_;
};

}  // namespace sb::server
