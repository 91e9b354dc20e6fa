// The control protocol: request lines in, reply lines out.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "control/protocol.hpp"
#include "server/server.hpp"

using namespace sb;
using control::Command;
using nlohmann::json;

namespace {

control::Request parsed(std::string_view line) {
    auto r = control::parse_request(line);
    REQUIRE_MESSAGE(r.request.has_value(), r.error);
    CHECK(r.error.empty());
    return *r.request;
}

std::string error_of(std::string_view line) {
    auto r = control::parse_request(line);
    CHECK_FALSE(r.request.has_value());
    return r.error;
}

json reply(const std::string& line) {
    REQUIRE(!line.empty());
    CHECK(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);  // one line, whatever it holds
    return json::parse(line);
}

}  // namespace

TEST_CASE("every command parses") {
    CHECK(parsed(R"({"command":"status"})").command == Command::status);
    CHECK(parsed(R"({"command":"services"})").command == Command::services);
    CHECK(parsed(R"({"command":"connections"})").command == Command::connections);
    CHECK(parsed(R"({"command":"reload"})").command == Command::reload);
    CHECK(parsed(R"({"command":"drain"})").command == Command::drain);
    CHECK(parsed(R"({"command":"metrics"})").command == Command::metrics);
    auto enable = parsed(R"({"command":"enable","service":"echo"})");
    CHECK(enable.command == Command::enable);
    CHECK(enable.service == "echo");
    auto disable = parsed(R"(  {"service":"git", "command":"disable"} )");
    CHECK(disable.command == Command::disable);
    CHECK(disable.service == "git");
}

TEST_CASE("a line may end in CRLF") { CHECK(parsed("{\"command\":\"status\"}\r").command == Command::status); }

TEST_CASE("malformed requests are refused with a reason") {
    CHECK(error_of("") == "empty request");
    CHECK(error_of("   ") == "empty request");
    CHECK(error_of("status") == "malformed request: not valid JSON");
    CHECK(error_of(R"({"command":"status")") == "malformed request: not valid JSON");
    CHECK(error_of(R"({"command":"status"} trailing)") == "malformed request: not valid JSON");
    CHECK(error_of(R"(["status"])").starts_with("malformed request: expected a JSON object"));
    CHECK(error_of(R"("status")").starts_with("malformed request: expected a JSON object"));
    CHECK(error_of("{}") == "missing \"command\"");
    CHECK(error_of(R"({"command":7})") == "\"command\" must be a string");
    CHECK(error_of(R"({"command":"enable","service":["a"]})") == "\"service\" must be a string");
    CHECK(error_of(R"({"command":"status","verbose":true})").starts_with("unknown key \"verbose\""));
    CHECK(error_of(std::string(100, '[')) == "malformed request: nested too deeply");
}

TEST_CASE("an unknown command names the known ones") {
    CHECK(error_of(R"({"command":"restart"})") ==
          "unknown command \"restart\"; expected one of status, services, connections, reload, enable, disable, "
          "drain, metrics");
}

TEST_CASE("enable and disable need a service; the others take none") {
    CHECK(error_of(R"({"command":"enable"})") == "enable needs a \"service\"");
    CHECK(error_of(R"({"command":"disable","service":""})") == "disable needs a \"service\"");
    CHECK(error_of(R"({"command":"status","service":"echo"})") == "status takes no \"service\"");
}

TEST_CASE("an oversized request is refused before it is parsed") {
    std::string line = R"({"command":"status","pad":")" + std::string(control::k_max_request, 'x') + "\"}";
    CHECK(error_of(line).starts_with("request too large: the limit is 65536 bytes"));
}

TEST_CASE("requests render as ctl sends them") {
    CHECK(control::render_request({Command::status, ""}) == "{\"command\":\"status\"}\n");
    CHECK(control::render_request({Command::enable, "echo"}) == "{\"command\":\"enable\",\"service\":\"echo\"}\n");
    // What ctl sends, the server reads back.
    auto back = parsed(control::render_request({Command::disable, "a \"quoted\" name"}));
    CHECK(back.service == "a \"quoted\" name");
}

TEST_CASE("a request may carry a token, which ctl sends and the server reads back") {
    auto r = parsed(R"({"command":"drain","token":"abc"})");
    CHECK(r.command == Command::drain);
    CHECK(r.token == "abc");
    CHECK(parsed(R"({"command":"status"})").token.empty());
    CHECK(error_of(R"({"command":"drain","token":7})") == "\"token\" must be a string");
    control::Request disable{Command::disable, "echo", "s3cret"};
    CHECK(control::render_request(disable) == "{\"command\":\"disable\",\"service\":\"echo\",\"token\":\"s3cret\"}\n");
    CHECK(parsed(control::render_request(disable)).token == "s3cret");
}

TEST_CASE("replies never fail on invalid UTF-8, whichever field holds it") {
    // Service names, peers and reload errors can hold bytes from files and
    // clients; nlohmann::json's dump() would throw on them by default.
    control::ServiceView v;
    v.name = "bad\xc3(";
    v.listeners = {"unix:/tmp/\xff.sock"};
    auto services = reply(control::reply_services({v}));
    CHECK(services["services"][0]["name"] == "bad\xef\xbf\xbd(");
    control::ConnectionView c;
    c.service = "\xfe";
    c.peer = "unix:/\x80";
    CHECK(reply(control::reply_connections({c}))["connections"][0]["service"] == "\xef\xbf\xbd");
    server::ApplyReport failed;
    failed.errors = {"/services/\xe2\x82: unknown key"};
    auto reload = reply(control::reply_reload(failed, 1));
    CHECK(reload["ok"] == false);
    CHECK(reload["errors"][0].get<std::string>().starts_with("/services/"));
    CHECK(reply(control::reply_switched("\xff\xff", true))["state"] == "enabled");
    CHECK(reply(control::reply_metrics("x{service=\"\xc0\"} 1\n"))["ok"] == true);
    control::StatusView s;
    s.config_file = "/etc/\xff.json";
    CHECK(reply(control::reply_status(s))["ok"] == true);
}

TEST_CASE("error replies") {
    auto j = reply(control::reply_error("no service named \"x\""));
    CHECK(j == json::parse(R"({"ok":false,"error":"no service named \"x\""})"));
    // Invalid UTF-8 is replaced, never a failure.
    auto k = reply(control::reply_error("bad \xff byte\nand a newline"));
    CHECK(k["ok"] == false);
    CHECK(k["error"].get<std::string>().find("and a newline") != std::string::npos);
}

TEST_CASE("status reply") {
    control::StatusView s;
    s.version = "1.2.3";
    s.pid = 42;
    s.uptime_seconds = 12.5;
    s.config_file = "/etc/switchboard/switchboard.json";
    s.generation = 3;
    s.connections = 7;
    s.children = 2;
    s.services = 4;
    s.reloads.succeeded = 2;
    s.reloads.failed = 1;
    s.reloads.last_ok = false;
    auto j = reply(control::reply_status(s));
    CHECK(j == json::parse(R"({"ok":true,"version":"1.2.3","pid":42,"uptime":12.5,
        "config":"/etc/switchboard/switchboard.json","generation":3,"connections":7,"children":2,"services":4,
        "stopping":false,"accept_failures":0,"fd_budget":{"pauses":0,"paused":false},
        "reloads":{"succeeded":2,"failed":1,"last_ok":false,"last_milliseconds":0.0}})"));
}

TEST_CASE("services reply") {
    control::ServiceView v;
    v.name = "echo";
    v.kind = "builtin";
    v.action = "echo";
    v.listeners = {"tcp://127.0.0.1:7", "udp://127.0.0.1:7"};
    v.state = "disabled";
    v.active = 2;
    v.counters.accepted = 10;
    v.counters.rejected[static_cast<std::size_t>(server::RejectReason::rate)] = 3;
    v.counters.rejected[static_cast<std::size_t>(server::RejectReason::denied)] = 1;
    v.counters.bytes_in = 100;
    v.counters.bytes_out = 200;
    auto j = reply(control::reply_services({v}));
    REQUIRE(j["services"].size() == 1);
    const json& s = j["services"][0];
    CHECK(j["ok"] == true);
    CHECK(s["name"] == "echo");
    CHECK(s["state"] == "disabled");
    CHECK(s["listeners"] == json::array({"tcp://127.0.0.1:7", "udp://127.0.0.1:7"}));
    CHECK(s["active"] == 2);
    CHECK(s["accepted"] == 10);
    CHECK(s["rejected"] == 4);
    CHECK(s["rejected_by"]["rate"] == 3);
    CHECK(s["rejected_by"]["denied"] == 1);
    CHECK(s["rejected_by"]["max_connections"] == 0);
    CHECK(s["rejected_by"].size() == server::k_reject_reasons);
    CHECK(s["exits"] == json::parse(R"({"ok":0,"failed":0})"));
    CHECK(s["bytes_in"] == 100);
    CHECK(s["bytes_out"] == 200);
}

TEST_CASE("connections reply: no child is null") {
    control::ConnectionView a{1, "echo", "127.0.0.1:5000", 1.5, 3, 4, 0, ""};
    control::ConnectionView b{2, "git", "[::1]:6000", 0.25, 0, 0, 4242, ""};
    control::ConnectionView c{3, "web", "127.0.0.1:5001", 2, 5, 6, 0, "10.0.0.2:80"};
    auto j = reply(control::reply_connections({a, b, c}));
    CHECK(j == json::parse(R"({"ok":true,"connections":[
        {"id":1,"service":"echo","peer":"127.0.0.1:5000","age":1.5,"bytes_in":3,"bytes_out":4,"pid":null,"upstream":null},
        {"id":2,"service":"git","peer":"[::1]:6000","age":0.25,"bytes_in":0,"bytes_out":0,"pid":4242,"upstream":null},
        {"id":3,"service":"web","peer":"127.0.0.1:5001","age":2,"bytes_in":5,"bytes_out":6,"pid":null,
         "upstream":"10.0.0.2:80"}]})"));
}

TEST_CASE("reload replies: what changed, or every error") {
    server::ApplyReport ok;
    ok.added = {"b"};
    ok.kept = {"a"};
    ok.milliseconds = 1.5;
    CHECK(reply(control::reply_reload(ok, 5)) == json::parse(R"({"ok":true,"generation":5,"added":["b"],
        "changed":[],"removed":[],"kept":["a"],"milliseconds":1.5})"));

    server::ApplyReport bad;
    bad.errors = {"a.json:3:5: /services/x: unknown key", "b.json: cannot read"};
    auto j = reply(control::reply_reload(bad, 5));
    CHECK(j["ok"] == false);
    CHECK(j["error"] == "reload failed with 2 errors; the running configuration is unchanged");
    CHECK(j["errors"] == json::array({"a.json:3:5: /services/x: unknown key", "b.json: cannot read"}));
}

TEST_CASE("enable, disable, drain and metrics replies") {
    CHECK(reply(control::reply_switched("echo", false)) ==
          json::parse(R"({"ok":true,"service":"echo","state":"disabled"})"));
    CHECK(reply(control::reply_drain(3)) == json::parse(R"({"ok":true,"state":"draining","connections":3})"));
    CHECK(reply(control::reply_metrics("a 1\nb 2\n")) == json::parse(R"({"ok":true,"metrics":"a 1\nb 2\n"})"));
}
