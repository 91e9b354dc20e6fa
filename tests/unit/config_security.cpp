// Configuration rules that keep other users and clients out: UNIX socket
// directories no one else can change, abstract sockets that cannot pretend
// to have a mode, and the documented defaults that bound one source.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

#include "switchboard/config/load.hpp"
#include "temp_dir.hpp"

namespace cfg = sb::config;

namespace {

cfg::LoadResult load(const std::string& text, bool check_system = true) {
    cfg::LoadOptions options;
    options.check_system = check_system;
    return cfg::load_text(text, "/virtual/etc/switchboard.json", options);
}

std::string all_errors(const cfg::LoadResult& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.to_string() + "\n";
    return out;
}

cfg::Error only_error(const cfg::LoadResult& r) {
    INFO(all_errors(r));
    REQUIRE(r.errors.size() == 1);
    CHECK_FALSE(r.config.has_value());
    return r.errors.front();
}

cfg::Config ok(const cfg::LoadResult& r) {
    INFO(all_errors(r));
    REQUIRE(r.errors.empty());
    REQUIRE(r.config.has_value());
    return *r.config;
}

std::string unix_echo(const std::string& address, const std::string& socket = "") {
    std::string s = R"({"services": {"u": {"listen": ")" + address + R"(", "builtin": "echo")";
    if (!socket.empty()) s += R"(, "socket": )" + socket;
    return s + "}}}";
}

std::string control_at(const std::string& path) {
    return R"({"control": {"socket": ")" + path + R"("}, "services": {}})";
}

}  // namespace

TEST_CASE("an abstract UNIX socket with a mode, owner or group is an error pointing to peer_uids") {
    for (std::string key : {"mode", "owner", "group"}) {
        CAPTURE(key);
        std::string value = key == "mode" ? "\"0600\"" : "0";
        cfg::Error e = only_error(load(unix_echo("unix:@sb-abstract", "{\"" + key + "\": " + value + "}"), false));
        CHECK(e.pointer == "/services/u/socket/" + key);
        CHECK(e.message == "socket " + key +
                               " has no effect on the abstract socket unix:@sb-abstract: it has no file, so any "
                               "local user can connect; restrict it with peer_uids or peer_gids");
    }
    // peer_uids is the way, and a mode for a path socket stays fine.
    ok(load(R"({"services": {"u": {"listen": "unix:@sb-abstract", "builtin": "echo", "peer_uids": [0]}}})", false));
    ok(load(unix_echo("unix:/run/sb-test.sock", R"({"mode": "0600"})"), false));
}

TEST_CASE("a UNIX socket in a directory another user can write to is an error") {
    sb::test::TempDir dir("sb-sockdir");
    const std::string open_dir = dir.path + "/open";
    const std::string sticky_dir = dir.path + "/sticky";
    const std::string owned_dir = dir.path + "/owned";
    for (const auto& d : {open_dir, sticky_dir, owned_dir}) REQUIRE(::mkdir(d.c_str(), 0755) == 0);
    REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);  // mkdir applies the umask
    REQUIRE(::chmod(sticky_dir.c_str(), 01777) == 0);

    SUBCASE("a service socket") {
        cfg::Error e = only_error(load(unix_echo("unix:" + open_dir + "/s.sock")));
        CHECK(e.pointer == "/services/u/listen");
        CHECK(e.message == "the directory " + open_dir + " of the UNIX socket " + open_dir +
                               "/s.sock is writable by other users (mode 0777, no sticky bit), who could replace "
                               "the socket; make it 0755, or sticky like /tmp");
        // A directory the server would create inside it is no better.
        CHECK(only_error(load(unix_echo("unix:" + open_dir + "/new/deeper/s.sock"))).message.find(
                  "the directory " + open_dir + " of") == 0);
    }
    SUBCASE("the control socket") {
        cfg::Error e = only_error(load(control_at(open_dir + "/control.sock")));
        CHECK(e.pointer == "/control/socket");
        CHECK(e.message.find("is writable by other users (mode 0777, no sticky bit)") != std::string::npos);
    }
    SUBCASE("a directory owned by another user") {
        REQUIRE(::chown(owned_dir.c_str(), 65534, 65534) == 0);  // the tests run as root
        cfg::Error e = only_error(load(unix_echo("unix:" + owned_dir + "/s.sock")));
        CHECK(e.message == "the directory " + owned_dir + " of the UNIX socket " + owned_dir +
                               "/s.sock is owned by uid 65534, who could replace the socket; use a directory "
                               "owned by root (or by the server's user)");
    }
    SUBCASE("accepted: a private directory, a sticky one, and no check without check_system") {
        ok(load(unix_echo("unix:" + dir.path + "/s.sock")));
        ok(load(unix_echo("unix:" + sticky_dir + "/s.sock")));
        ok(load(control_at(sticky_dir + "/control.sock")));
        ok(load(unix_echo("unix:" + open_dir + "/s.sock"), false));
    }
}

TEST_CASE("the defaults that bound one source are what the README says") {
    using namespace std::chrono_literals;
    const std::string services = R"("services": {
        "b": {"listen": "tcp://127.0.0.1:1", "builtin": "echo"},
        "e": {"listen": "tcp://127.0.0.1:2", "exec": {"argv": ["/bin/cat"]}},
        "w": {"listen": "tcp://127.0.0.1:3", "exec": {"argv": ["/bin/cat"], "wait": true}},
        "own": {"listen": "tcp://127.0.0.1:4", "builtin": "echo", "per_source": 3, "timeouts": {"idle": "2s"}}})";
    cfg::Config c = ok(load("{" + services + "}", false));
    CHECK(cfg::k_default_per_source == 40);
    CHECK(cfg::k_builtin_default_idle == 5min);
    CHECK(c.services.at("b").admission.per_source == 40);
    CHECK(c.services.at("b").timeouts.idle == 5min);
    CHECK(c.services.at("e").admission.per_source == 40);
    CHECK(c.services.at("e").timeouts.idle == 0ms);  // exec: no default idle timeout
    CHECK(c.services.at("w").admission.per_source == cfg::k_unlimited);  // its child accepts
    CHECK(c.services.at("own").admission.per_source == 3);
    CHECK(c.services.at("own").timeouts.idle == 2s);

    // "defaults" overrides the built-in defaults, and 0 turns them off.
    cfg::Config d = ok(load(R"({"defaults": {"per_source": 0, "timeouts": {"idle": 0}}, )" + services + "}", false));
    CHECK(d.services.at("b").admission.per_source == cfg::k_unlimited);
    CHECK(d.services.at("b").timeouts.idle == 0ms);
    CHECK(d.services.at("own").admission.per_source == 3);
    CHECK(d.services.at("own").timeouts.idle == 2s);

    std::ifstream in(std::string(SB_SOURCE_ROOT) + "/README.md");
    std::string readme((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(readme.find("| `per_source` | 40 | 40 (not for `wait: true`) |") != std::string::npos);
    CHECK(readme.find("| `timeouts.idle` | 5 min | none |") != std::string::npos);
    CHECK(readme.find("| `per_source` (built-in and exec services) | 40 |") != std::string::npos);
    CHECK(readme.find("| `timeouts.idle` (built-ins) | 5 min |") != std::string::npos);
}
