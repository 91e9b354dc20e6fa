// Control roles, the token and its file: who may run which command.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/control_token.hpp"
#include "control/access.hpp"
#include "temp_dir.hpp"

using namespace sb;
using control::Command;

namespace {

control::ControlPeer unix_peer(uid_t uid, gid_t gid = 100, std::vector<gid_t> groups = {}) {
    control::ControlPeer peer;
    peer.address = "unix";
    peer.uid = uid;
    peer.gid = gid;
    peer.groups = std::move(groups);
    return peer;
}

control::ControlPeer tcp_peer() {
    control::ControlPeer peer;
    peer.address = "127.0.0.1:40000";
    peer.tcp = true;
    return peer;
}

control::AccessPolicy policy(std::string token = {}, std::optional<gid_t> admin_group = std::nullopt) {
    control::AccessPolicy p;
    p.server_uid = 998;
    p.admin_group = admin_group;
    p.token = std::move(token);
    return p;
}

control::Request request(Command command, std::string token = {}) {
    control::Request r;
    r.command = command;
    if (control::takes_service(command)) r.service = "echo";
    r.token = std::move(token);
    return r;
}

constexpr Command k_readers[] = {Command::status, Command::services, Command::connections, Command::metrics};
constexpr Command k_writers[] = {Command::reload, Command::enable, Command::disable, Command::drain};

}  // namespace

TEST_CASE("read-only commands are open to anyone who can connect") {
    for (Command c : k_readers) {
        CHECK_FALSE(control::changes_state(c));
        CHECK(control::refusal(request(c), unix_peer(1000), policy()).empty());
        CHECK(control::refusal(request(c), tcp_peer(), policy()).empty());
    }
}

TEST_CASE("state-changing commands need root, the server's uid or the admin group on the UNIX socket") {
    for (Command c : k_writers) {
        CHECK(control::changes_state(c));
        CHECK(control::refusal(request(c), unix_peer(0), policy()).empty());
        CHECK(control::refusal(request(c), unix_peer(998), policy()).empty());
        CHECK(control::refusal(request(c), unix_peer(1000, 50), policy({}, 50)).empty());
        CHECK(control::refusal(request(c), unix_peer(1000, 100, {20, 50}), policy({}, 50)).empty());
    }
    std::string why = control::refusal(request(Command::disable), unix_peer(1000, 100, {20}), policy({}, 50));
    CHECK(why == "permission denied: 'disable' needs admin (root, uid 998 or group 50); you are uid 1000");
    why = control::refusal(request(Command::reload), unix_peer(1000), policy());
    CHECK(why == "permission denied: 'reload' needs admin (root, uid 998); you are uid 1000");
    // A peer the kernel said nothing about is nobody's admin.
    control::ControlPeer unknown;
    unknown.address = "unix";
    CHECK(control::refusal(request(Command::drain), unknown, policy()).starts_with("permission denied"));
}

TEST_CASE("on TCP a state change needs the token; a wrong token is refused whatever it asks") {
    const std::string token = "0123456789abcdef0123";
    std::string why = control::refusal(request(Command::disable), tcp_peer(), policy());
    CHECK(why.starts_with("permission denied: 'disable' needs admin; over TCP that takes a token"));
    why = control::refusal(request(Command::disable), tcp_peer(), policy(token));
    CHECK(why.find("send the token from control.token_file") != std::string::npos);
    CHECK(control::refusal(request(Command::disable, token), tcp_peer(), policy(token)).empty());
    CHECK(control::refusal(request(Command::disable, token + "x"), tcp_peer(), policy(token)) ==
          "permission denied: wrong token");
    CHECK(control::refusal(request(Command::status, "guess"), tcp_peer(), policy(token)) ==
          "permission denied: wrong token");
    CHECK(control::refusal(request(Command::status, "guess"), tcp_peer(), policy()).find("no control.token_file") !=
          std::string::npos);
    // TCP peers are never root, whatever they claim.
    control::ControlPeer claims_root = tcp_peer();
    claims_root.uid = 0;
    CHECK_FALSE(control::is_privileged(claims_root, policy()));
    CHECK(control::is_privileged(unix_peer(0), policy()));
    CHECK(control::is_privileged(unix_peer(998), policy()));
    CHECK_FALSE(control::is_privileged(unix_peer(1000, 50), policy({}, 50)));  // admins share the common slots
}

TEST_CASE("token comparison") {
    CHECK(control::tokens_equal("abcdefgh", "abcdefgh"));
    CHECK_FALSE(control::tokens_equal("abcdefgX", "abcdefgh"));
    CHECK_FALSE(control::tokens_equal("abcdefg", "abcdefgh"));
    CHECK_FALSE(control::tokens_equal("abcdefghi", "abcdefgh"));
    CHECK_FALSE(control::tokens_equal("", "abcdefgh"));
    CHECK_FALSE(control::tokens_equal(std::string_view("abcdefgh\0", 9), "abcdefgh"));
}

TEST_CASE("peers are bounded by uid on UNIX and by address on TCP") {
    CHECK(unix_peer(1000).source() == "uid 1000");
    CHECK(tcp_peer().source() == "127.0.0.1");
    control::ControlPeer v6 = tcp_peer();
    v6.address = "[::1]:5000";
    CHECK(v6.source() == "[::1]");
}

TEST_CASE("the token file: readable by its owner only, one line of printable ASCII") {
    test::TempDir dir("sb-token");
    std::string path = dir.path + "/token";
    std::string error;
    test::write_file(path, "s3cr3t-t0ken-0123456789\n");
    REQUIRE(::chmod(path.c_str(), 0600) == 0);
    auto token = config::read_control_token(path, error);
    REQUIRE_MESSAGE(token.has_value(), error);
    CHECK(*token == "s3cr3t-t0ken-0123456789");

    REQUIRE(::chmod(path.c_str(), 0640) == 0);
    CHECK_FALSE(config::read_control_token(path, error));
    CHECK(error == "the control token file " + path +
                       " has mode 0640, so its group or others may read or change it; make it readable by its "
                       "owner only (chmod 600 " + path + ")");
    REQUIRE(::chmod(path.c_str(), 0400) == 0);
    CHECK(config::read_control_token(path, error));

    if (::geteuid() == 0) {
        REQUIRE(::chown(path.c_str(), 65534, static_cast<gid_t>(-1)) == 0);
        CHECK_FALSE(config::read_control_token(path, error));
        CHECK(error.find("is owned by uid 65534; it must belong to root") != std::string::npos);
        REQUIRE(::chown(path.c_str(), 0, static_cast<gid_t>(-1)) == 0);
    }

    test::write_file(path + "2", "short\n");
    REQUIRE(::chmod((path + "2").c_str(), 0600) == 0);
    CHECK_FALSE(config::read_control_token(path + "2", error));
    CHECK(error.find("holds a token of 5 characters; it needs 16 to 1024") != std::string::npos);

    test::write_file(path + "3", "has a space in it, so no\n");
    REQUIRE(::chmod((path + "3").c_str(), 0600) == 0);
    CHECK_FALSE(config::read_control_token(path + "3", error));
    CHECK(error.find("printable ASCII without spaces") != std::string::npos);

    CHECK_FALSE(config::read_control_token(dir.path + "/missing", error));
    CHECK(error == "cannot read the control token file " + dir.path + "/missing: No such file or directory");
}
