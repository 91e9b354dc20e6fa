// Admission with a fake clock: allow/deny (most specific wins, IPv6,
// v4-mapped), UNIX peer credentials, max_connections per service and
// server-wide, per_source by prefix groups, rate and source_rate,
// max_children, the order of the checks, per-datagram checks, and a
// per-source table that does not grow with the clients it has seen.
#include <doctest/doctest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "server/admission.hpp"
#include "server/source_buckets.hpp"
#include "net_support.hpp"

using sb::config::Admission;
using sb::config::OnLimit;
using sb::config::Rate;
using sb::config::Service;
using sb::net::Cidr;
using sb::net::IpAddress;
using sb::net::SockAddr;
using sb::server::AccessList;
using sb::server::AdmissionTicket;
using sb::server::Decision;
using sb::server::GlobalAdmission;
using sb::server::PeerCredentials;
using sb::server::RejectReason;
using sb::server::ServiceAdmission;

namespace {

SockAddr peer(const std::string& host, std::uint16_t port = 40000) { return sb::test::socket_address(host, port); }

SockAddr unix_peer() {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    return SockAddr::from(reinterpret_cast<const sockaddr*>(&sun), sizeof(sa_family_t));
}

IpAddress ip(const std::string& text) {
    auto out = IpAddress::parse(text);
    REQUIRE(out.has_value());
    return *out;
}

std::vector<Cidr> cidrs(std::initializer_list<const char*> texts) {
    std::vector<Cidr> out;
    for (const char* t : texts) {
        std::string error;
        auto c = Cidr::parse(t, error);
        REQUIRE_MESSAGE(c.has_value(), error);
        out.push_back(*c);
    }
    return out;
}

std::shared_ptr<const Service> service(const std::function<void(Admission&)>& edit, bool exec = false) {
    auto s = std::make_shared<Service>();
    s->name = "svc";
    if (exec) {
        sb::config::Exec e;
        e.argv = {"/bin/true"};
        s->action = e;
    } else {
        s->action = sb::config::Builtin::echo;
    }
    edit(s->admission);
    return s;
}

// One service and the server-wide counts, on a fake clock.
struct Fixture {
    GlobalAdmission global;
    ServiceAdmission admission;
    std::uint64_t now = 1'000'000;
    std::vector<AdmissionTicket> tickets;

    explicit Fixture(const std::function<void(Admission&)>& edit, bool exec = false,
                     std::size_t max_idle_sources = ServiceAdmission::k_default_max_idle_sources)
        : admission(max_idle_sources) {
        admission.configure(service(edit, exec), now, exec);
    }

    // Admits and keeps the ticket; returns the reason of a rejection.
    std::optional<RejectReason> connect(const std::string& host) {
        Decision d = admission.admit(global, peer(host), std::nullopt, now);
        if (d.admitted()) tickets.push_back(d.ticket);
        return d.rejected;
    }
    void close_oldest() {
        REQUIRE(!tickets.empty());
        admission.release(global, tickets.front(), now);
        tickets.erase(tickets.begin());
    }
    void close_all() {
        while (!tickets.empty()) close_oldest();
    }
};

constexpr std::optional<RejectReason> admitted = std::nullopt;

}  // namespace

// ---- allow / deny -------------------------------------------------------------

TEST_CASE("no lists: everyone may connect") {
    AccessList list;
    CHECK(list.allows(ip("10.0.0.1")));
    CHECK(list.allows(ip("2001:db8::1")));
}

TEST_CASE("a prefix at its boundary addresses") {
    AccessList list(cidrs({"10.0.0.0/8"}), {});
    CHECK_FALSE(list.allows(ip("9.255.255.255")));
    CHECK(list.allows(ip("10.0.0.0")));
    CHECK(list.allows(ip("10.255.255.255")));
    CHECK_FALSE(list.allows(ip("11.0.0.0")));

    AccessList host(cidrs({"192.0.2.1"}), {});
    CHECK_FALSE(host.allows(ip("192.0.2.0")));
    CHECK(host.allows(ip("192.0.2.1")));
    CHECK_FALSE(host.allows(ip("192.0.2.2")));
}

TEST_CASE("an empty allow list means everyone not denied") {
    AccessList list({}, cidrs({"192.0.2.0/24", "2001:db8::/32"}));
    CHECK_FALSE(list.allows(ip("192.0.2.77")));
    CHECK(list.allows(ip("192.0.3.1")));
    CHECK_FALSE(list.allows(ip("2001:db8:1::1")));
    CHECK(list.allows(ip("2001:db9::1")));
}

TEST_CASE("the most specific match wins, whichever list it is in") {
    SUBCASE("deny 10.0.0.0/8, allow 10.1.0.0/16") {
        AccessList list(cidrs({"10.1.0.0/16"}), cidrs({"10.0.0.0/8"}));
        CHECK(list.allows(ip("10.1.2.3")));
        CHECK(list.allows(ip("10.1.255.255")));
        CHECK_FALSE(list.allows(ip("10.0.255.255")));
        CHECK_FALSE(list.allows(ip("10.2.0.0")));
        CHECK_FALSE(list.allows(ip("11.0.0.1")));  // unmatched, and an allow list exists
    }
    SUBCASE("allow 10.0.0.0/8, deny 10.1.0.0/16, deny 10.1.2.3 allowed back") {
        AccessList list(cidrs({"10.0.0.0/8", "10.1.2.3"}), cidrs({"10.1.0.0/16"}));
        CHECK(list.allows(ip("10.0.0.1")));
        CHECK_FALSE(list.allows(ip("10.1.0.1")));
        CHECK(list.allows(ip("10.1.2.3")));
        CHECK_FALSE(list.allows(ip("10.1.2.4")));
    }
    SUBCASE("the order of the lists does not matter") {
        AccessList list(cidrs({"10.1.0.0/16", "0.0.0.0/0"}), cidrs({"10.1.2.0/24", "10.0.0.0/8"}));
        CHECK(list.allows(ip("10.1.3.1")));
        CHECK_FALSE(list.allows(ip("10.1.2.1")));
        CHECK_FALSE(list.allows(ip("10.9.0.1")));
        CHECK(list.allows(ip("192.0.2.1")));
    }
    SUBCASE("the same prefix in both lists: deny") {
        AccessList list(cidrs({"192.0.2.0/24"}), cidrs({"192.0.2.0/24"}));
        CHECK_FALSE(list.allows(ip("192.0.2.1")));
    }
}

TEST_CASE("IPv6 prefixes") {
    AccessList list(cidrs({"2001:db8::/32"}), cidrs({"2001:db8:bad::/48"}));
    CHECK(list.allows(ip("2001:db8::1")));
    CHECK(list.allows(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
    CHECK_FALSE(list.allows(ip("2001:db9::")));
    CHECK_FALSE(list.allows(ip("2001:db8:bad:1::1")));
    CHECK(list.allows(ip("2001:db8:bae::1")));
    CHECK_FALSE(list.allows(ip("10.0.0.1")));
}

TEST_CASE("a v4-mapped IPv6 peer is judged as IPv4") {
    Fixture f([](Admission& a) {
        a.allow = cidrs({"10.0.0.0/8"});
        a.deny = cidrs({"10.66.0.0/16"});
    });
    CHECK(f.connect("::ffff:10.1.2.3") == admitted);
    CHECK(f.connect("::ffff:10.66.0.1") == RejectReason::denied);
    CHECK(f.connect("::ffff:11.0.0.1") == RejectReason::denied);
    CHECK(f.connect("10.1.2.3") == admitted);
    CHECK(f.connect("10.66.0.1") == RejectReason::denied);
    // A real IPv6 address is not an IPv4 one that happens to share bits.
    CHECK(f.connect("::10.1.2.3") == RejectReason::denied);
}

TEST_CASE("IPv6 rules through admit") {
    Fixture f([](Admission& a) { a.deny = cidrs({"::1"}); });
    CHECK(f.connect("::1") == RejectReason::denied);
    CHECK(f.connect("::2") == admitted);
    CHECK(f.connect("127.0.0.1") == admitted);
}

// ---- UNIX peers ------------------------------------------------------------------

TEST_CASE("peer credentials: uid or gid must be listed; root is not special") {
    Admission a;
    PeerCredentials root{0, 0, {}};
    PeerCredentials alice{1000, 1000, {4, 27}};
    CHECK(sb::server::credentials_allowed(a, root));  // nothing configured
    CHECK(sb::server::credentials_allowed(a, alice));

    a.peer_uids = {1000};
    CHECK(sb::server::credentials_allowed(a, alice));
    CHECK_FALSE(sb::server::credentials_allowed(a, root));
    CHECK_FALSE(sb::server::credentials_allowed(a, PeerCredentials{1001, 1000, {}}));
    CHECK_FALSE(sb::server::credentials_allowed(a, PeerCredentials{999, 1000, {}}));

    a.peer_uids.clear();
    a.peer_gids = {4};
    CHECK(sb::server::credentials_allowed(a, alice));  // by a supplementary group
    CHECK(sb::server::credentials_allowed(a, PeerCredentials{5, 4, {}}));  // by the primary group
    CHECK_FALSE(sb::server::credentials_allowed(a, root));

    a.peer_uids = {0};
    CHECK(sb::server::credentials_allowed(a, root));  // listed, like anyone else
}

TEST_CASE("a UNIX peer's credentials come from the socket") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    auto creds = sb::server::peer_credentials(sv[0], true);
    REQUIRE(creds.has_value());
    CHECK(creds->uid == ::getuid());
    CHECK(creds->gid == ::getgid());

    Fixture mine([](Admission& a) { a.peer_uids = {::getuid()}; });
    CHECK(mine.admission.admit(mine.global, unix_peer(), sv[0], mine.now).admitted());
    Fixture other([](Admission& a) { a.peer_uids = {::getuid() + 4242}; });
    Decision d = other.admission.admit(other.global, unix_peer(), sv[0], other.now);
    CHECK(d.rejected == RejectReason::denied);
    Fixture by_group([](Admission& a) { a.peer_gids = {::getgid()}; });
    CHECK(by_group.admission.admit(by_group.global, unix_peer(), sv[0], by_group.now).admitted());
    ::close(sv[0]);
    ::close(sv[1]);
}

TEST_CASE("a UNIX peer whose credentials cannot be read is refused when they matter") {
    Fixture f([](Admission& a) { a.peer_uids = {::getuid()}; });
    CHECK(f.admission.admit(f.global, unix_peer(), std::nullopt, f.now).rejected == RejectReason::denied);
    Fixture open([](Admission& a) { a.allow = cidrs({"10.0.0.0/8"}); });
    // CIDR lists are for IP peers; a UNIX socket with none of its own lists is open.
    CHECK(open.admission.admit(open.global, unix_peer(), std::nullopt, open.now).admitted());
}

// ---- max_connections ----------------------------------------------------------

TEST_CASE("max_connections: n-1, n, n+1, and room again after a release") {
    Fixture f([](Admission& a) {
        a.max_connections = 3;
        a.on_limit = OnLimit::reject;
    });
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.2") == admitted);  // n-1
    CHECK_FALSE(f.admission.should_pause(f.global));
    CHECK(f.connect("10.0.0.3") == admitted);  // n
    CHECK(f.admission.active() == 3);
    CHECK(f.connect("10.0.0.4") == RejectReason::max_connections);  // n+1
    CHECK(f.admission.active() == 3);
    CHECK_FALSE(f.admission.should_pause(f.global));  // "reject" never pauses
    f.close_oldest();
    CHECK(f.admission.active() == 2);
    CHECK(f.connect("10.0.0.4") == admitted);
}

TEST_CASE("max_connections with on_limit pause: pause at n, resume below") {
    Fixture f([](Admission& a) { a.max_connections = 2; });  // pause is the default
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK_FALSE(f.admission.should_pause(f.global));
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.admission.should_pause(f.global));
    // One that slipped through before the pause took hold is still refused.
    CHECK(f.connect("10.0.0.1") == RejectReason::max_connections);
    f.close_oldest();
    CHECK_FALSE(f.admission.should_pause(f.global));
}

TEST_CASE("limits.max_connections counts every service together") {
    GlobalAdmission global;
    sb::config::Limits limits;
    limits.max_connections = 3;
    global.configure(limits);
    CHECK_FALSE(global.take_full_changed());
    ServiceAdmission a;
    ServiceAdmission b;
    a.configure(service([](Admission&) {}), 0, false);
    b.configure(service([](Admission& s) { s.on_limit = OnLimit::reject; }), 0, false);
    std::vector<AdmissionTicket> ta;
    for (int i = 0; i < 2; ++i) ta.push_back(a.admit(global, peer("10.0.0.1"), std::nullopt, 0).ticket);
    CHECK(global.connections() == 2);  // n-1
    CHECK_FALSE(global.take_full_changed());
    Decision third = b.admit(global, peer("10.0.0.1"), std::nullopt, 0);  // n
    REQUIRE(third.admitted());
    CHECK(global.connections_full());
    CHECK(global.take_full_changed());  // every service must look at its pauses now
    CHECK_FALSE(global.take_full_changed());
    CHECK(a.should_pause(global));        // on_limit pause
    CHECK_FALSE(b.should_pause(global));  // on_limit reject: keeps accepting, and refuses
    CHECK(b.admit(global, peer("10.0.0.1"), std::nullopt, 0).rejected == RejectReason::max_connections);  // n+1
    CHECK(a.admit(global, peer("10.0.0.1"), std::nullopt, 0).rejected == RejectReason::max_connections);
    CHECK(global.connections() == 3);
    b.release(global, third.ticket, 0);
    CHECK(global.take_full_changed());
    CHECK_FALSE(a.should_pause(global));
    CHECK(a.admit(global, peer("10.0.0.1"), std::nullopt, 0).admitted());
}

TEST_CASE("a reload that lowers the limit below the open connections pauses until they drain") {
    Fixture f([](Admission&) {});
    for (int i = 0; i < 5; ++i) REQUIRE(f.connect("10.0.0.1") == admitted);
    f.admission.configure(service([](Admission& a) { a.max_connections = 3; }), f.now, false);
    CHECK(f.admission.active() == 5);
    CHECK(f.admission.should_pause(f.global));
    f.close_oldest();
    f.close_oldest();
    CHECK(f.admission.should_pause(f.global));
    f.close_oldest();
    CHECK_FALSE(f.admission.should_pause(f.global));
}

// ---- per_source -----------------------------------------------------------------

TEST_CASE("per_source: n-1, n, n+1 from one address; others unaffected") {
    Fixture f([](Admission& a) { a.per_source = 3; });
    CHECK(f.connect("192.0.2.1") == admitted);
    CHECK(f.connect("192.0.2.1") == admitted);  // n-1
    CHECK(f.connect("192.0.2.1") == admitted);  // n
    CHECK(f.admission.source_connections(peer("192.0.2.1")) == 3);
    CHECK(f.connect("192.0.2.1") == RejectReason::per_source);  // n+1
    CHECK(f.connect("192.0.2.2") == admitted);
    CHECK(f.connect("::ffff:192.0.2.1") == RejectReason::per_source);  // the same client, v4-mapped
    f.close_oldest();
    CHECK(f.admission.source_connections(peer("192.0.2.1")) == 2);
    CHECK(f.connect("192.0.2.1") == admitted);
}

TEST_CASE("per_source groups IPv6 peers by source_prefix") {
    Fixture f([](Admission& a) {
        a.per_source = 2;
        a.source_prefix_v6 = 64;
    });
    CHECK(f.connect("2001:db8:0:1::1") == admitted);
    CHECK(f.connect("2001:db8:0:1:ffff:ffff:ffff:ffff") == admitted);
    CHECK(f.connect("2001:db8:0:1::3") == RejectReason::per_source);  // the same /64
    CHECK(f.connect("2001:db8:0:2::1") == admitted);                  // the next /64
    CHECK(f.connect("2001:db8:0:0:ffff::1") == admitted);             // the one before
    CHECK(f.connect("10.0.0.1") == admitted);                         // IPv4 keeps /32
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.1") == RejectReason::per_source);
    CHECK(f.connect("10.0.0.2") == admitted);
}

TEST_CASE("per_source groups IPv4 peers by source_prefix") {
    Fixture f([](Admission& a) {
        a.per_source = 1;
        a.source_prefix_v4 = 24;
    });
    CHECK(f.connect("198.51.100.7") == admitted);
    CHECK(f.connect("198.51.100.200") == RejectReason::per_source);
    CHECK(f.connect("198.51.101.7") == admitted);
}

TEST_CASE("a reload that changes source_prefix still releases what was counted") {
    Fixture f([](Admission& a) { a.per_source = 1; });
    REQUIRE(f.connect("2001:db8::1") == admitted);
    f.admission.configure(service([](Admission& a) {
                              a.per_source = 1;
                              a.source_prefix_v6 = 64;
                          }),
                          f.now, false);
    CHECK(f.connect("2001:db8::2") == admitted);  // a new /64 group, counted anew
    CHECK(f.connect("2001:db8::3") == RejectReason::per_source);
    f.close_all();
    CHECK(f.admission.sources() == 0);
    CHECK(f.admission.active() == 0);
}

// ---- rate and source_rate ---------------------------------------------------------

TEST_CASE("rate: the burst at once, then one per interval") {
    Fixture f([](Admission& a) { a.rate = Rate{10, 3}; });  // a token every 100 ms
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.2") == admitted);  // n-1
    CHECK(f.connect("10.0.0.3") == admitted);  // n
    CHECK(f.connect("10.0.0.4") == RejectReason::rate);  // n+1
    CHECK(f.admission.active() == 3);  // a refusal counts nothing
    f.now += 99;
    CHECK(f.connect("10.0.0.4") == RejectReason::rate);
    f.now += 1;
    CHECK(f.connect("10.0.0.4") == admitted);
    CHECK(f.connect("10.0.0.5") == RejectReason::rate);
    f.close_all();  // closing gives no tokens back: the rate is of arrivals
    CHECK(f.connect("10.0.0.5") == RejectReason::rate);
    f.now += 10'000;
    for (int i = 0; i < 3; ++i) CHECK(f.connect("10.0.0.6") == admitted);  // refilled to burst, no more
    CHECK(f.connect("10.0.0.6") == RejectReason::rate);
}

TEST_CASE("source_rate: each source has its own bucket") {
    Fixture f([](Admission& a) { a.source_rate = Rate{1, 2}; });
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.1") == RejectReason::rate);
    CHECK(f.connect("10.0.0.2") == admitted);
    f.close_all();  // the entries stay while their buckets refill
    CHECK(f.connect("10.0.0.1") == RejectReason::rate);
    f.now += 1000;
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.1") == RejectReason::rate);
}

TEST_CASE("a source refused by its own rate does not spend the service's tokens") {
    Fixture f([](Admission& a) {
        a.rate = Rate{1, 4};
        a.source_rate = Rate{1, 2};
    });
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.1") == admitted);
    for (int i = 0; i < 50; ++i) CHECK(f.connect("10.0.0.1") == RejectReason::rate);
    CHECK(f.connect("10.0.0.2") == admitted);
    CHECK(f.connect("10.0.0.2") == admitted);
    CHECK(f.connect("10.0.0.3") == RejectReason::rate);  // now the service's bucket is empty
}

TEST_CASE("checks run cheapest first, and a refusal spends no tokens") {
    Fixture f([](Admission& a) {
        a.deny = cidrs({"10.9.0.0/16"});
        a.max_connections = 2;
        a.on_limit = OnLimit::reject;
        a.per_source = 1;
        a.rate = Rate{1, 3};
    });
    for (int i = 0; i < 10; ++i) CHECK(f.connect("10.9.0.1") == RejectReason::denied);
    CHECK(f.connect("10.0.0.1") == admitted);
    for (int i = 0; i < 10; ++i) CHECK(f.connect("10.0.0.1") == RejectReason::per_source);
    CHECK(f.connect("10.0.0.2") == admitted);
    CHECK(f.connect("10.9.0.1") == RejectReason::denied);  // denied before max_connections
    CHECK(f.connect("10.0.0.1") == RejectReason::max_connections);  // before per_source
    f.close_all();
    CHECK(f.connect("10.0.0.3") == admitted);  // the third token: nothing refused spent one
    CHECK(f.connect("10.0.0.4") == RejectReason::rate);
}

// ---- max_children ----------------------------------------------------------------

TEST_CASE("max_children: children count until they exit, after their client left") {
    Fixture f([](Admission& a) { a.max_children = 2; a.on_limit = OnLimit::reject; }, true);
    CHECK(f.connect("10.0.0.1") == admitted);
    f.admission.child_started(f.global);  // n-1
    CHECK(f.connect("10.0.0.1") == admitted);
    f.admission.child_started(f.global);  // n
    f.close_all();                        // both clients left; the children run on
    CHECK(f.admission.active() == 0);
    CHECK(f.admission.children() == 2);
    CHECK(f.connect("10.0.0.1") == RejectReason::max_children);  // n+1
    f.admission.child_exited(f.global);
    CHECK(f.connect("10.0.0.1") == admitted);
}

TEST_CASE("max_children pauses a service whose on_limit is pause") {
    Fixture f([](Admission& a) { a.max_children = 1; }, true);
    REQUIRE(f.connect("10.0.0.1") == admitted);
    f.admission.child_started(f.global);
    f.close_all();
    CHECK(f.admission.should_pause(f.global));
    f.admission.child_exited(f.global);
    CHECK_FALSE(f.admission.should_pause(f.global));
}

TEST_CASE("limits.max_children counts the children of every exec service") {
    GlobalAdmission global;
    sb::config::Limits limits;
    limits.max_children = 2;
    global.configure(limits);
    ServiceAdmission a;
    ServiceAdmission b;
    ServiceAdmission builtin;
    a.configure(service([](Admission& s) { s.on_limit = OnLimit::reject; }, true), 0, true);
    b.configure(service([](Admission& s) { s.on_limit = OnLimit::reject; }, true), 0, true);
    builtin.configure(service([](Admission&) {}), 0, false);
    a.child_started(global);
    CHECK_FALSE(global.take_full_changed());
    b.child_started(global);
    CHECK(global.children_full());
    CHECK(global.take_full_changed());
    CHECK(a.admit(global, peer("10.0.0.1"), std::nullopt, 0).rejected == RejectReason::max_children);
    CHECK(b.admit(global, peer("10.0.0.1"), std::nullopt, 0).rejected == RejectReason::max_children);
    CHECK(builtin.admit(global, peer("10.0.0.1"), std::nullopt, 0).admitted());  // built-ins spawn nothing
    CHECK_FALSE(builtin.should_pause(global));
    a.child_exited(global);
    CHECK(global.take_full_changed());
    CHECK(b.admit(global, peer("10.0.0.1"), std::nullopt, 0).admitted());
}

// ---- datagrams -------------------------------------------------------------------

TEST_CASE("datagrams: allow/deny and a datagram rate, per packet") {
    Fixture f([](Admission& a) {
        a.deny = cidrs({"10.66.0.0/16"});
        a.rate = Rate{10, 2};
        a.per_source = 1;  // per-connection limits do not apply to datagrams
    });
    CHECK(f.admission.admit_datagram(peer("10.66.1.1"), f.now) == RejectReason::denied);
    CHECK(f.admission.admit_datagram(peer("::ffff:10.66.1.1"), f.now) == RejectReason::denied);
    CHECK(f.admission.admit_datagram(peer("10.0.0.1"), f.now) == admitted);
    CHECK(f.admission.admit_datagram(peer("10.0.0.1"), f.now) == admitted);
    CHECK(f.admission.admit_datagram(peer("10.0.0.1"), f.now) == RejectReason::rate);
    f.now += 100;
    CHECK(f.admission.admit_datagram(peer("10.0.0.1"), f.now) == admitted);
    CHECK(f.admission.active() == 0);
    CHECK(f.admission.sources() == 0);
    // Datagrams have a bucket of their own: connections still have their burst.
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.2") == admitted);
    CHECK(f.connect("10.0.0.3") == RejectReason::rate);
}

TEST_CASE("datagrams: a UDP built-in answers each source at a default rate, source_rate replaces it") {
    Fixture builtin([](Admission&) {});
    const Rate d = sb::config::k_builtin_datagram_source_rate;
    for (int i = 0; i < static_cast<int>(d.burst); ++i) REQUIRE(builtin.admission.admit_datagram(peer("10.0.0.1"), builtin.now) == admitted);
    CHECK(builtin.admission.admit_datagram(peer("10.0.0.1"), builtin.now) == RejectReason::rate);
    CHECK(builtin.admission.admit_datagram(peer("::ffff:10.0.0.1"), builtin.now) == RejectReason::rate);
    CHECK(builtin.admission.admit_datagram(peer("10.0.0.2"), builtin.now) == admitted);  // a bucket of its own
    builtin.now += static_cast<std::uint64_t>(1000 / d.per_second);
    CHECK(builtin.admission.admit_datagram(peer("10.0.0.1"), builtin.now) == admitted);

    Fixture own([](Admission& a) { a.source_rate = Rate{1000, 1000}; });
    for (int i = 0; i < 500; ++i) REQUIRE(own.admission.admit_datagram(peer("10.0.0.1"), own.now) == admitted);

    // Exec (wait) services get no default: their child decides.
    Fixture exec([](Admission&) {}, true);
    for (int i = 0; i < 500; ++i) REQUIRE(exec.admission.admit_datagram(peer("10.0.0.1"), exec.now) == admitted);
}

TEST_CASE("datagrams: a source over its rate does not spend the service's tokens") {
    Fixture f([](Admission& a) {
        a.rate = Rate{1, 5};
        a.source_rate = Rate{1, 1};
    });
    CHECK(f.admission.admit_datagram(peer("10.0.0.1"), f.now) == admitted);
    for (int i = 0; i < 10; ++i) CHECK(f.admission.admit_datagram(peer("10.0.0.1"), f.now) == RejectReason::rate);
    for (int i = 2; i <= 5; ++i) CHECK(f.admission.admit_datagram(peer("10.0.0." + std::to_string(i)), f.now) == admitted);
}

TEST_CASE("datagram sources: a fixed-size table, the longest unseen source evicted") {
    sb::server::SourceBuckets table;
    const Rate rate{1, 1};
    std::uint64_t now = 1000;
    CHECK(table.size() == 0);
    REQUIRE(table.has_token(ip("10.0.0.1"), rate, now));
    table.take(ip("10.0.0.1"), rate, now);
    CHECK_FALSE(table.has_token(ip("10.0.0.1"), rate, now));
    // A flood of forged sources: the table never grows past its size.
    for (int i = 0; i < 100000; ++i) {
        auto source = ip("11." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
                         std::to_string(i & 255));
        if (table.has_token(source, rate, now + 1 + static_cast<std::uint64_t>(i) / 1000)) table.take(source, rate, now);
    }
    CHECK(table.size() == sb::server::SourceBuckets::k_slots);
    // 10.0.0.1 was seen longest ago: evicted, it is back with a full bucket.
    CHECK(table.has_token(ip("10.0.0.1"), rate, now + 200));
}

// ---- the per-source table stays small ----------------------------------------------

namespace {

std::string nth_address(int i) {
    return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
           std::to_string(i & 255);
}

}  // namespace

TEST_CASE("per_source alone forgets a source when its last connection closes") {
    Fixture f([](Admission& a) { a.per_source = 4; });
    for (int i = 0; i < 1000; ++i) REQUIRE(f.connect(nth_address(i)) == admitted);
    CHECK(f.admission.sources() == 1000);
    f.close_all();
    CHECK(f.admission.sources() == 0);
}

TEST_CASE("idle sources are pruned once their buckets have refilled") {
    Fixture f([](Admission& a) { a.source_rate = Rate{1, 2}; });
    for (int i = 0; i < 1000; ++i) REQUIRE(f.connect(nth_address(i)) == admitted);
    REQUIRE(f.connect(nth_address(0)) == admitted);  // one source still connected after the rest leave
    AdmissionTicket keep = f.tickets.back();
    f.tickets.pop_back();
    f.close_all();
    CHECK(f.admission.sources() == 1000);  // every bucket is still refilling
    f.admission.prune(f.now + 999);
    CHECK(f.admission.sources() == 1000);
    f.admission.prune(f.now + 1000);  // one token back: the buckets are full again
    CHECK(f.admission.sources() == 1);  // ...except the one with a connection
    CHECK(f.admission.source_connections(peer(nth_address(0))) == 1);
    f.now += 1000;
    f.admission.release(f.global, keep, f.now + 2000);  // closes with a full bucket: forgotten at once
    CHECK(f.admission.sources() == 0);
}

TEST_CASE("however many distinct sources come and go, the table stays bounded") {
    Fixture f([](Admission& a) { a.source_rate = Rate{0.001, 5}; }, false, 100);
    std::size_t largest = 0;
    for (int i = 0; i < 5000; ++i) {
        REQUIRE(f.connect(nth_address(i)) == admitted);
        f.close_oldest();
        largest = std::max(largest, f.admission.sources());
    }
    CHECK(largest <= 101);
    CHECK(f.admission.sources() <= 100);
}

TEST_CASE("forgetting idle sources never loses a live connection's count") {
    Fixture f([](Admission& a) {
        a.per_source = 1;
        a.source_rate = Rate{0.001, 5};
    }, false, 10);
    for (int i = 0; i < 50; ++i) REQUIRE(f.connect(nth_address(i)) == admitted);  // held open
    for (int i = 1000; i < 1500; ++i) {  // many more come and go
        REQUIRE(f.connect(nth_address(i)) == admitted);
        AdmissionTicket t = f.tickets.back();
        f.tickets.pop_back();
        f.admission.release(f.global, t, f.now);
    }
    for (int i = 0; i < 50; ++i) CHECK(f.connect(nth_address(i)) == RejectReason::per_source);
    CHECK(f.admission.sources() <= 60);
    f.close_all();
    CHECK(f.admission.active() == 0);
}

// ---- reloads ---------------------------------------------------------------------

TEST_CASE("a rate switched on by a reload starts with a full bucket") {
    Fixture f([](Admission&) {});
    for (int i = 0; i < 100; ++i) REQUIRE(f.connect("10.0.0.1") == admitted);
    f.admission.configure(service([](Admission& a) {
                              a.rate = Rate{1, 3};
                              a.source_rate = Rate{1, 2};
                          }),
                          f.now, false);
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.1") == admitted);
    CHECK(f.connect("10.0.0.1") == RejectReason::rate);  // its source bucket
    CHECK(f.connect("10.0.0.2") == admitted);
    CHECK(f.connect("10.0.0.3") == RejectReason::rate);  // the service's bucket
}

TEST_CASE("an unconfigured admission admits everyone") {
    GlobalAdmission global;
    ServiceAdmission admission;
    CHECK(admission.admit(global, peer("10.0.0.1"), std::nullopt, 0).admitted());
    CHECK(admission.admit_datagram(peer("10.0.0.1"), 0) == std::nullopt);
    CHECK_FALSE(admission.should_pause(global));
}
