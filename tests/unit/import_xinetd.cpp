// xinetd configurations: the parser (sections, operators, includes) and
// what the attributes become, defaults included.
#include <doctest/doctest.h>

#include <filesystem>

#include "import/report.hpp"
#include "import/xinetd_parser.hpp"
#include "import_support.hpp"
#include "temp_dir.hpp"

namespace imp = sb::import;
using nlohmann::json;
using sb::test::has_warning;
using sb::test::import_options;
using sb::test::loaded_services;

namespace {

imp::Result import_text(const std::string& text) {
    return imp::import_xinetd_text(text, "xinetd.conf", import_options());
}

// A stream service on port 2000 running /bin/cat, plus `extra` lines.
std::string cat_service(const std::string& name, const std::string& extra = "") {
    return "service " + name + "\n{\n\ttype = UNLISTED\n\tport = 2000\n\tsocket_type = stream\n\twait = no\n"
           "\tuser = nobody\n\tserver = /bin/cat\n" + extra + "}\n";
}

}  // namespace

TEST_CASE("xinetd parser: sections, operators and positions") {
    imp::Report report;
    auto sections = imp::parse_xinetd("# comment\n"
                                      "defaults\n{\n\tonly_from = 10.0.0.0\n}\n"
                                      "service ftp {\n"
                                      "\tenv += A=1 B=2\n"
                                      "\tpassenv-=HOME\n"
                                      "\tnot an attribute\n"
                                      "}\n",
                                      "x.conf", import_options(), report);
    REQUIRE(sections.size() == 2);
    CHECK(sections[0].defaults);
    CHECK(sections[1].name == "ftp");
    CHECK(sections[1].origin.line == 6);
    REQUIRE(sections[1].attributes.size() == 2);
    CHECK(sections[1].attributes[0].op == imp::AssignOp::add);
    CHECK(sections[1].attributes[0].values == std::vector<std::string>{"A=1", "B=2"});
    CHECK(sections[1].attributes[1].name == "passenv");
    CHECK(sections[1].attributes[1].op == imp::AssignOp::remove);
    auto warnings = report.take();
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].to_string() == "x.conf:9: warning: not an attribute line: \"not an attribute\"; ignored");
}

TEST_CASE("xinetd parser: an unclosed section is reported and dropped") {
    imp::Report report;
    auto sections = imp::parse_xinetd("service a\n{\n\tport = 1\n", "x.conf", import_options(), report);
    CHECK(sections.empty());
    CHECK(report.take().at(0).to_string() == "x.conf:1: warning: section is not closed with \"}\"; not imported");
}

TEST_CASE("xinetd parser: includedir reads files without dots or tildes, sorted") {
    sb::test::TempDir dir("sb-import");
    const std::string d = dir.path + "/xinetd.d";
    std::filesystem::create_directory(d);
    sb::test::write_file(d + "/b", "service b\n{\n}\n");
    sb::test::write_file(d + "/a", "service a\n{\n}\n");
    sb::test::write_file(d + "/c.rpmsave", "service c\n{\n}\n");
    sb::test::write_file(d + "/d~", "service d\n{\n}\n");
    sb::test::write_file(dir.path + "/more", "service m\n{\n}\n");
    auto options = import_options();
    options.follow_includes = true;
    imp::Report report;
    auto sections = imp::parse_xinetd("includedir " + d + "\ninclude " + dir.path + "/more\n", "x.conf", options,
                                      report);
    REQUIRE(sections.size() == 3);
    CHECK(sections[0].name == "a");
    CHECK(sections[0].origin.file == d + "/a");
    CHECK(sections[1].name == "b");
    CHECK(sections[2].name == "m");
    CHECK(report.take().empty());
}

TEST_CASE("xinetd: a service with the attributes switchboard maps") {
    auto r = import_text(cat_service("ftp", "\tgroup = nogroup\n\tserver_args = -u\n\tinstances = 4\n"
                                            "\tper_source = 2\n\tnice = 5\n\tumask = 027\n\trlimit_files = 64\n"
                                            "\trlimit_as = 8M\n\trlimit_cpu = UNLIMITED\n\tenv = LANG=C\n"
                                            "\tpassenv = TZ\n\tbind = 127.0.0.1\n\tflags = KEEPALIVE\n"
                                            "\tbanner = /etc/issue.net\n"));
    auto s = loaded_services(r);
    CHECK(s["ftp"] == json::parse(R"({
        "listen": ["tcp://127.0.0.1:2000"], "socket": {"keepalive": true},
        "exec": {"argv": ["/bin/cat", "-u"], "user": "nobody", "group": "nogroup", "nice": 5, "umask": "027",
                 "rlimits": {"nofile": 64, "as": "8M", "cpu": "unlimited"}, "env": {"LANG": "C"},
                 "pass_env": ["TZ"]},
        "max_connections": 4, "per_source": 2, "banner": {"file": "/etc/issue.net"}})"));
    CHECK(r.warnings.empty());
}

TEST_CASE("xinetd: defaults, and =, += and -= on top of them") {
    auto r = import_text("defaults\n{\n\tonly_from = 10.0.0.0\n\tonly_from = 192.0.2.1\n\tper_source = 3\n}\n" +
                         cat_service("plus", "\tonly_from += 10.1.{2,3}\n") +
                         cat_service("minus", "\tport = 2001\n\tonly_from -= 192.0.2.1\n") +
                         cat_service("replace", "\tport = 2002\n\tonly_from = trusted.example\n\tper_source = 9\n"));
    auto s = loaded_services(r);
    CHECK(s["plus"]["allow"] == json::parse(R"(["10.0.0.0/8", "192.0.2.1", "10.1.2.0/24", "10.1.3.0/24"])"));
    CHECK(s["minus"]["allow"] == json::parse(R"(["10.0.0.0/8"])"));
    CHECK(s["replace"]["allow"] == json::parse(R"(["192.0.2.10"])"));
    CHECK(s["plus"]["per_source"] == 3);
    CHECK(s["replace"]["per_source"] == 9);
}

TEST_CASE("xinetd: disable, and the defaults' enabled and disabled lists") {
    auto r = import_text("defaults\n{\n\tdisabled = b\n}\n" + cat_service("a", "\tdisable = yes\n") +
                         cat_service("b", "\tport = 2001\n") + cat_service("c", "\tport = 2002\n"));
    auto s = loaded_services(r);
    CHECK(s["a"]["enabled"] == false);
    CHECK(s["b"]["enabled"] == false);
    CHECK_FALSE(s["c"].contains("enabled"));
    auto only = loaded_services(import_text("defaults\n{\n\tenabled = a\n}\n" + cat_service("a") +
                                            cat_service("b", "\tport = 2001\n")));
    CHECK_FALSE(only["a"].contains("enabled"));
    CHECK(only["b"]["enabled"] == false);
}

TEST_CASE("xinetd: only_from and no_access") {
    auto r = import_text(cat_service("a", "\tonly_from = 10.0.0.0 0.0.0.0 2001:db8::/32 .example.com\n"
                                          "\tno_access = 10.9.0.0/16 10.1.1.1\n") +
                         cat_service("nobody", "\tport = 2001\n\tonly_from =\n"));
    auto s = loaded_services(r);
    CHECK(s["a"]["allow"] == json::parse(R"(["10.0.0.0/8", "0.0.0.0/0", "::/0", "2001:db8::/32"])"));
    CHECK(s["a"]["deny"] == json::parse(R"(["10.9.0.0/16", "10.1.1.1"])"));
    CHECK(s["nobody"]["deny"] == json::parse(R"(["0.0.0.0/0", "::/0"])"));
    CHECK(has_warning(r, "only_from \".example.com\": a domain match needs a reverse lookup"));
}

TEST_CASE("xinetd: cps becomes a rate, with a note rather than an error") {
    auto r = import_text(cat_service("a", "\tcps = 10 30\n"));
    CHECK(loaded_services(r)["a"]["rate"] == json::parse(R"({"per_second": 10, "burst": 10})"));
    REQUIRE(r.warnings.size() == 1);
    CHECK_FALSE(r.warnings[0].unmapped);
}

TEST_CASE("xinetd: unmapped attributes are reported once each, with their line") {
    auto r = import_text("defaults\n{\n\tlog_type = SYSLOG daemon\n}\n" +
                         cat_service("a", "\taccess_times = 2:00-9:00\n\tflags = SENSOR\n") +
                         cat_service("b", "\tport = 2001\n"));
    loaded_services(r);
    CHECK(sb::test::warnings_text(r) ==
          "xinetd.conf:3: warning: \"log_type\": switchboard logs every connection to its own log (stderr or "
          "log.file); left out\n"
          "xinetd.conf:13: warning: \"access_times\": switchboard serves at all times; left out\n"
          "xinetd.conf:14: warning: \"flags\": flag SENSOR has no equivalent; left out\n");
}

TEST_CASE("xinetd: redirect becomes a redirect service, TCPMUX a service joining tcpmux") {
    auto r = import_text(std::string("service fwd\n{\n\ttype = UNLISTED\n\tport = 2000\n\tsocket_type = stream\n"
                                     "\twait = no\n\tredirect = 192.0.2.1 23\n}\n") +
                         "service fwd6\n{\n\ttype = UNLISTED\n\tport = 2001\n\tsocket_type = stream\n\twait = no\n"
                         "\tredirect = 2001:db8::1 23\n}\n" +
                         cat_service("mux", "\ttype = TCPMUX\n"));
    const json& s = loaded_services(r);
    CHECK(s["fwd"]["redirect"] == json::parse(R"({"to": "tcp://192.0.2.1:23"})"));
    CHECK(s["fwd"]["listen"] == json::parse(R"(["tcp://0.0.0.0:2000"])"));
    CHECK(s["fwd6"]["redirect"] == json::parse(R"({"to": "tcp://[2001:db8::1]:23"})"));
    CHECK(s["mux"]["tcpmux"] == "mux");
    CHECK_FALSE(s["mux"].contains("listen"));
    CHECK(s["tcpmux"]["builtin"] == "tcpmux");
}

TEST_CASE("xinetd: internal services become built-ins; a second id is not imported") {
    auto r = import_text("service echo\n{\n\ttype = INTERNAL\n\tid = echo-stream\n\tsocket_type = stream\n"
                         "\twait = no\n\tuser = root\n}\n"
                         "service echo\n{\n\ttype = INTERNAL\n\tid = echo-dgram\n\tsocket_type = dgram\n"
                         "\twait = yes\n\tflags = IPv6\n}\n"
                         "service echo\n{\n\ttype = INTERNAL\n\tid = echo-dgram\n\tsocket_type = dgram\n}\n");
    auto s = loaded_services(r);
    CHECK(s == json::parse(R"({"echo": {"builtin": "echo", "listen": ["tcp://0.0.0.0:7", "udp://[::]:7"]}})"));
    CHECK(has_warning(r, "xinetd.conf:17: warning: service id \"echo-dgram\" is defined again (first at "
                         "xinetd.conf:9)"));
}
