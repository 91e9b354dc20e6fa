// inetd.conf: the parser (fields, comments, continuation lines, default
// addresses) and what each field becomes.
#include <doctest/doctest.h>

#include "import/inetd_parser.hpp"
#include "import/report.hpp"
#include "import_support.hpp"

namespace imp = sb::import;
using sb::test::has_warning;
using sb::test::import_options;
using sb::test::loaded_services;
using nlohmann::json;

namespace {

imp::Result import_text(const std::string& text, imp::Dialect dialect = imp::Dialect::openbsd) {
    auto options = import_options();
    options.dialect = dialect;
    return imp::import_inetd_text(text, "inetd.conf", options);
}

}  // namespace

TEST_CASE("inetd parser: comments, blank lines and continuation lines") {
    imp::Report report;
    auto entries = imp::parse_inetd("# a comment\n"
                                    "\n"
                                    "ftp stream tcp nowait root\n"
                                    "\t/usr/sbin/in.ftpd in.ftpd\n"
                                    "  -l\n"
                                    "# ends the entry\n"
                                    "  echo stream tcp nowait root internal\n",
                                    "f", report);
    REQUIRE(entries.size() == 2);
    CHECK(entries[0].origin.line == 3);
    CHECK(entries[0].program == "/usr/sbin/in.ftpd");
    CHECK(entries[0].args == std::vector<std::string>{"in.ftpd", "-l"});
    // A blank-led line after a comment starts an entry of its own.
    CHECK(entries[1].service == "echo");
    CHECK(entries[1].origin.line == 7);
    CHECK(report.take().empty());
}

TEST_CASE("inetd parser: address prefixes and default-address lines") {
    imp::Report report;
    auto entries = imp::parse_inetd("a stream tcp nowait root internal\n"
                                    "127.0.0.1,[::1]:\n"
                                    "b stream tcp nowait root internal\n"
                                    "10.0.0.1:c stream tcp nowait root internal\n"
                                    "::1:d stream tcp nowait root internal\n"
                                    "/run/x:y.sock stream unix nowait root /bin/cat cat\n"
                                    "*:\n"
                                    "e stream tcp nowait root internal\n",
                                    "f", report);
    REQUIRE(entries.size() == 6);
    CHECK(entries[0].hosts == std::vector<std::string>{"*"});
    CHECK(entries[1].hosts == std::vector<std::string>{"127.0.0.1", "::1"});
    CHECK(entries[2].hosts == std::vector<std::string>{"10.0.0.1"});
    CHECK(entries[2].service == "c");
    CHECK(entries[3].hosts == std::vector<std::string>{"::1"});
    CHECK(entries[4].service == "/run/x:y.sock");  // a UNIX path keeps its colon
    CHECK(entries[5].hosts == std::vector<std::string>{"*"});
}

TEST_CASE("inetd parser: a short line is reported with its line number") {
    imp::Report report;
    auto entries = imp::parse_inetd("\nftp stream tcp nowait\n", "inetd.conf", report);
    CHECK(entries.empty());
    auto warnings = report.take();
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].to_string() ==
          "inetd.conf:2: warning: an entry needs at least 6 fields (service, socket type, protocol, wait, user, "
          "program), got 4 in \"ftp stream tcp nowait\"; not imported");
}

TEST_CASE("inetd: built-ins over tcp and udp become one service with port numbers") {
    auto r = import_text("echo stream tcp nowait root internal\necho dgram udp wait root internal\n");
    auto s = loaded_services(r);
    CHECK(s == json::parse(R"({"echo": {"builtin": "echo", "listen": ["tcp://*:7", "udp://*:7"]}})"));
    CHECK(r.warnings.empty());
}

TEST_CASE("inetd: the dialects read tcp, tcp6 and tcp6only differently") {
    const std::string text = "echo stream tcp nowait root internal\n"
                             "discard stream tcp6 nowait root internal\n";
    auto openbsd = loaded_services(import_text(text));
    CHECK(openbsd["echo"]["listen"] == json::parse(R"(["tcp://*:7"])"));
    CHECK(openbsd["discard"]["socket"]["v6only"] == true);
    auto inetutils = loaded_services(import_text(text + "chargen stream tcp6only nowait root internal\n",
                                                 imp::Dialect::inetutils));
    CHECK(inetutils["echo"]["listen"] == json::parse(R"(["tcp://0.0.0.0:7"])"));
    CHECK(inetutils["discard"]["socket"]["v6only"] == false);
    CHECK(inetutils["chargen"]["socket"]["v6only"] == true);
}

TEST_CASE("inetd: user.group, user:group, argv and wait") {
    auto r = import_text("ftp stream tcp nowait nobody.nogroup /bin/cat cat -u\n"
                         "finger stream tcp nowait daemon:adm /bin/cat cat\n"
                         "rsync stream tcp wait nobody /bin/cat cat\n"
                         "tftp dgram udp wait root /usr/sbin/in.tftpd in.tftpd -s /srv\n");
    auto s = loaded_services(r);
    CHECK(s["ftp"]["exec"] == json::parse(R"({"argv": ["/bin/cat", "-u"], "user": "nobody", "group": "nogroup"})"));
    CHECK(s["finger"]["exec"]["group"] == "adm");
    CHECK(s["rsync"]["exec"]["wait"] == true);
    CHECK(s["tftp"]["exec"]["wait"] == true);
    CHECK(r.warnings.empty());
}

TEST_CASE("inetd: .max is a rate of max a minute, where switchboard can apply one") {
    auto r = import_text("ftp stream tcp nowait.120 nobody /bin/cat cat\n"
                         "tftp dgram udp wait.60 root /usr/sbin/in.tftpd in.tftpd\n"
                         "rsync stream tcp wait.10 nobody /bin/cat cat\n");
    auto s = loaded_services(r);
    CHECK(s["ftp"]["rate"] == json::parse(R"({"per_second": 2, "burst": 120})"));
    CHECK(s["tftp"]["rate"] == json::parse(R"({"per_second": 1, "burst": 60})"));  // per datagram over UDP
    CHECK_FALSE(s["rsync"].contains("rate"));  // the program accepts the connections
    CHECK(has_warning(r, "inetd.conf:3: warning: a rate limit has no equivalent for a wait service over a stream"));
}

TEST_CASE("inetd: host names resolve at import, and are listed") {
    auto r = import_text("localhost:2000 stream tcp nowait nobody /bin/cat cat\n"
                         "nowhere.invalid:2001 stream tcp nowait nobody /bin/cat cat\n");
    auto s = loaded_services(r);
    CHECK(s["2000"]["listen"] == json::parse(R"(["tcp://127.0.0.1:2000", "tcp://[::1]:2000"])"));
    CHECK_FALSE(s.contains("2001"));
    REQUIRE(r.warnings.size() == 2);
    CHECK_FALSE(r.warnings[0].unmapped);  // a note: the meaning is kept
    CHECK(r.warnings[0].message.find("\"localhost\" resolved now to 127.0.0.1 ::1") != std::string::npos);
    CHECK(r.warnings[1].unmapped);
    CHECK(r.warnings[1].message.find("does not resolve") != std::string::npos);
}

TEST_CASE("inetd: tcpmux lines join the tcpmux built-in, which gets port 1 once") {
    auto r = import_text("tcpmux/+date stream tcp nowait nobody /bin/date date\n"
                         "tcpmux/book stream tcp nowait nobody /bin/cat phonebook\n"
                         "tcpmux/waits stream tcp wait nobody /bin/cat cat\n"
                         "tcpmux/HELP stream tcp nowait nobody /bin/cat cat\n");
    const json& s = r.config["services"];
    CHECK(s["date"] == json::parse(R"({"exec": {"argv": ["/bin/date"], "user": "nobody"},
                                       "tcpmux": {"name": "date", "plus": true}})"));
    CHECK(s["book"]["tcpmux"] == "book");
    CHECK_FALSE(s["book"].contains("listen"));
    CHECK(s["tcpmux"] == json::parse(R"({"builtin": "tcpmux", "listen": ["tcp://*:1"]})"));
    CHECK(s.size() == 3);
    REQUIRE(r.warnings.size() == 4);
    CHECK(r.warnings[0].to_string(true) ==
          "inetd.conf:1: warning: tcpmux services are reached through the tcpmux port: added service \"tcpmux\" "
          "on tcp://*:1");
    CHECK(r.warnings[1].message == "argv[0] \"phonebook\" of /bin/cat: switchboard passes the program's path as argv[0]");
    CHECK(r.warnings[2].message ==
          "tcpmux service \"waits\": tcpmux hands each client to its own program (nowait); not imported");
    CHECK(r.warnings[3].message.find("not HELP") != std::string::npos);
}

TEST_CASE("inetd: unknown services and the same address twice") {
    auto r = import_text("nosuch stream tcp nowait root /bin/cat cat\n"
                         "2000 stream tcp nowait nobody /bin/cat cat\n"
                         "127.0.0.1:2000 stream tcp nowait nobody /bin/cat cat -u\n");
    auto s = loaded_services(r);
    CHECK(s.size() == 1);
    CHECK(has_warning(r, "inetd.conf:1: warning: service \"nosuch\"/tcp is not in"));
    CHECK(has_warning(r, "inetd.conf:3: warning: address tcp://127.0.0.1:2000 is already taken by the entry at "
                         "inetd.conf:2; left out"));
}

TEST_CASE("inetd: names are stable and unique") {
    auto r = import_text("time stream tcp nowait root internal\n"
                         "time dgram udp6 wait root internal\n");
    auto s = loaded_services(r);
    CHECK(s.contains("time-tcp"));
    CHECK(s.contains("time-udp6"));
    CHECK(import_text("time stream tcp nowait root internal\ntime dgram udp6 wait root internal\n").config ==
          r.config);
}
