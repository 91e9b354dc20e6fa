// What `switchboard ctl` prints for people: aligned tables and key/value lists.
#include <doctest/doctest.h>

#include "control/table.hpp"

using namespace sb;
using control::Command;

TEST_CASE("tables align columns; numbers to the right") {
    control::Table t;
    t.headers = {"NAME", "N", "NOTE"};
    t.numeric = {false, true, false};
    t.rows = {{"a", "1", "first"}, {"longer", "1234", ""}, {"b", "22", "x y"}};
    CHECK(control::format_table(t) ==
          "NAME       N  NOTE\n"
          "a          1  first\n"
          "longer  1234\n"
          "b         22  x y\n");
}

TEST_CASE("durations read at a glance") {
    CHECK(control::format_duration(0.25) == "250ms");
    CHECK(control::format_duration(42.9) == "42s");
    CHECK(control::format_duration(187) == "3m07s");
    CHECK(control::format_duration(7500) == "2h05m");
    CHECK(control::format_duration(3 * 86400 + 4 * 3600 + 5) == "3d04h");
    CHECK(control::format_duration(-1) == "-");
}

TEST_CASE("status as aligned key/value lines") {
    auto h = control::render_human(Command::status, R"({"ok":true,"version":"0.1.0","pid":42,"uptime":65.2,
        "config":"/etc/sb.json","generation":3,"connections":7,"children":0,"services":2,"stopping":false,
        "reloads":{"succeeded":2,"failed":1,"last_ok":true,"last_milliseconds":1.0}})");
    CHECK(h.ok());
    CHECK(h.err.empty());
    CHECK(h.out ==
          "version      0.1.0\n"
          "pid          42\n"
          "uptime       1m05s\n"
          "config       /etc/sb.json\n"
          "generation   3\n"
          "services     2\n"
          "connections  7\n"
          "children     0\n"
          "reloads      2 ok, 1 failed (last ok)\n"
          "state        serving\n");
}

TEST_CASE("services table") {
    auto h = control::render_human(Command::services, R"({"ok":true,"services":[
        {"name":"echo","kind":"builtin","action":"echo","listeners":["tcp://127.0.0.1:7","udp://127.0.0.1:7"],
         "state":"enabled","active":2,"accepted":1500,"rejected":3,"spawned":0},
        {"name":"old","kind":"builtin","action":"daytime","listeners":[],"state":"draining","active":1,
         "accepted":9,"rejected":0,"spawned":0}]})");
    CHECK(h.ok());
    CHECK(h.out ==
          "SERVICE  STATE     ACTIVE  ACCEPTED  REJECTED  SPAWNED  KIND             LISTEN\n"
          "echo     enabled        2      1500         3        0  builtin echo     tcp://127.0.0.1:7 udp://127.0.0.1:7\n"
          "old      draining       1         9         0        0  builtin daytime  -\n");
}

TEST_CASE("connections table, and an empty one") {
    auto h = control::render_human(Command::connections, R"({"ok":true,"connections":[
        {"id":1,"service":"echo","peer":"127.0.0.1:50000","age":3.5,"bytes_in":10,"bytes_out":10,"pid":null},
        {"id":12,"service":"git","peer":"[::1]:4000","age":0.1,"bytes_in":0,"bytes_out":2048,"pid":777},
        {"id":13,"service":"web","peer":"[::1]:4001","age":2,"bytes_in":5,"bytes_out":6,"pid":null,
         "upstream":"10.0.0.2:80"}]})");
    CHECK(h.ok());
    CHECK(h.out ==
          "ID  SERVICE  PEER               AGE  IN   OUT  PID  UPSTREAM\n"
          " 1  echo     127.0.0.1:50000     3s  10    10    -  -\n"
          "12  git      [::1]:4000       100ms   0  2048  777  -\n"
          "13  web      [::1]:4001          2s   5     6    -  10.0.0.2:80\n");
    CHECK(control::render_human(Command::connections, R"({"ok":true,"connections":[]})").out ==
          "no open connections\n");
}

TEST_CASE("reload: what changed, or every error on stderr") {
    auto ok = control::render_human(Command::reload, R"({"ok":true,"generation":4,"added":["b","c"],
        "changed":[],"removed":["old"],"kept":["a"],"milliseconds":1.25})");
    CHECK(ok.ok());
    CHECK(ok.out ==
          "reloaded in 1.25 ms, generation 4\n"
          "added    b, c\n"
          "changed  -\n"
          "removed  old\n"
          "kept     a\n");
    auto bad = control::render_human(Command::reload, R"({"ok":false,
        "error":"reload failed with 2 errors; the running configuration is unchanged",
        "errors":["a.json:1:2: first","a.json:3:4: second"]})");
    CHECK(bad.verdict == control::HumanReply::Verdict::refused);
    CHECK(bad.out.empty());
    CHECK(bad.err ==
          "reload failed with 2 errors; the running configuration is unchanged\n"
          "  a.json:1:2: first\n"
          "  a.json:3:4: second\n");
}

TEST_CASE("short answers") {
    CHECK(control::render_human(Command::disable, R"({"ok":true,"service":"echo","state":"disabled"})").out ==
          "echo: disabled\n");
    CHECK(control::render_human(Command::drain, R"({"ok":true,"state":"draining","connections":2})").out ==
          "draining: 2 connections open; switchboard exits when they have finished\n");
    CHECK(control::render_human(Command::metrics, R"({"ok":true,"metrics":"a 1\n"})").out == "a 1\n");
}

TEST_CASE("what is not a reply is called so") {
    for (const char* text : {"", "not json", "[1,2]", R"({"status":"fine"})", R"({"ok":"yes"})"}) {
        auto h = control::render_human(Command::status, text);
        CHECK(h.verdict == control::HumanReply::Verdict::malformed);
        CHECK_FALSE(h.err.empty());
    }
    // Fields of the wrong type are malformed too, not a crash.
    auto h = control::render_human(Command::status, R"({"ok":true,"stopping":"no"})");
    CHECK(h.verdict == control::HumanReply::Verdict::malformed);
}
