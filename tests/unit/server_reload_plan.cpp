// The reload planner: which services are added, changed, kept or removed,
// and which listeners keep their socket, change in place, bind or close.
#include <doctest/doctest.h>

#include <algorithm>

#include "server/reload_plan.hpp"

using namespace sb;
using sb::server::plan_reload;

namespace {

config::Listen listen_on(const char* text) {
    std::string error;
    auto ep = net::parse_endpoint(text, error);
    REQUIRE_MESSAGE(ep.has_value(), error);
    return config::Listen{*ep, {}};
}

config::Service echo(const std::string& name, std::initializer_list<const char*> addresses) {
    config::Service s;
    s.name = name;
    s.action = config::Builtin::echo;
    for (const char* a : addresses) s.listen.push_back(listen_on(a));
    return s;
}

config::Config with(std::initializer_list<config::Service> services) {
    config::Config c;
    for (const auto& s : services) c.services[s.name] = s;
    return c;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

TEST_CASE("the first apply binds everything") {
    auto next = with({echo("a", {"tcp://127.0.0.1:7001", "udp://127.0.0.1:7001"}), echo("b", {"unix:/tmp/b.sock"})});
    auto plan = plan_reload(config::Config{}, next);
    CHECK(plan.ok());
    CHECK(plan.added == std::vector<std::string>{"a", "b"});
    CHECK(plan.bind.size() == 3);
    CHECK(plan.keep.empty());
    CHECK(plan.close.empty());
}

TEST_CASE("an unchanged configuration keeps every socket") {
    auto c = with({echo("a", {"tcp://127.0.0.1:7001"}), echo("b", {"tcp://[::1]:7002"})});
    auto plan = plan_reload(c, c);
    CHECK(plan.kept == std::vector<std::string>{"a", "b"});
    CHECK(plan.keep.size() == 2);
    CHECK(plan.bind.empty());
    CHECK(plan.update.empty());
    CHECK(plan.close.empty());
}

TEST_CASE("added, changed and removed services; listeners follow their addresses") {
    auto before = with({echo("a", {"tcp://127.0.0.1:7001"}), echo("gone", {"tcp://127.0.0.1:7003"})});
    auto changed = echo("a", {"tcp://127.0.0.1:7001", "tcp://127.0.0.1:7004"});
    changed.admission.banner.text = "hello\r\n";
    auto after = with({changed, echo("new", {"tcp://127.0.0.1:7005"})});
    auto plan = plan_reload(before, after);
    CHECK(plan.ok());
    CHECK(plan.added == std::vector<std::string>{"new"});
    CHECK(plan.changed == std::vector<std::string>{"a"});
    CHECK(plan.removed == std::vector<std::string>{"gone"});
    CHECK(has(plan.keep, "tcp://127.0.0.1:7001"));
    CHECK(plan.close == std::vector<std::string>{"tcp://127.0.0.1:7003"});
    REQUIRE(plan.bind.size() == 2);
}

TEST_CASE("an address moving from one service to another keeps its socket") {
    auto before = with({echo("old", {"tcp://127.0.0.1:7001"})});
    auto after = with({echo("renamed", {"tcp://127.0.0.1:7001"})});
    auto plan = plan_reload(before, after);
    CHECK(plan.added == std::vector<std::string>{"renamed"});
    CHECK(plan.removed == std::vector<std::string>{"old"});
    CHECK(plan.keep == std::vector<std::string>{"tcp://127.0.0.1:7001"});
    CHECK(plan.bind.empty());
    CHECK(plan.close.empty());
}

TEST_CASE("backlog and UNIX mode change in place; reuse_port cannot") {
    auto before = with({echo("a", {"tcp://127.0.0.1:7001"}), echo("u", {"unix:/tmp/u.sock"})});
    auto after = before;
    after.services["a"].listen[0].options.backlog = 16;
    after.services["u"].listen[0].options.mode = 0600;
    auto plan = plan_reload(before, after);
    CHECK(plan.ok());
    CHECK(plan.update.size() == 2);
    CHECK(plan.bind.empty());
    CHECK(plan.close.empty());

    after.services["a"].listen[0].options.reuse_port = true;
    plan = plan_reload(before, after);
    CHECK_FALSE(plan.ok());
    REQUIRE(plan.conflicts.size() == 1);
    CHECK(plan.conflicts[0].find("reuse_port") != std::string::npos);
    CHECK(plan.conflicts[0].find("tcp://127.0.0.1:7001") != std::string::npos);
}
