// Loading configurations: what a valid file turns into, and every message a
// user sees for one that is not valid (file, pointer, line:column, text).
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "switchboard/config/load.hpp"

using namespace std::chrono_literals;
namespace cfg = sb::config;

namespace {

constexpr const char* k_name = "/virtual/etc/switchboard.json";

cfg::LoadResult load(std::string_view text, bool check_system = false, const std::string& name = k_name) {
    cfg::LoadOptions options;
    options.check_system = check_system;
    return cfg::load_text(text, name, options);
}

std::string all_errors(const cfg::LoadResult& r) {
    std::string out;
    for (const auto& e : r.errors) out += e.to_string() + "\n";
    return out;
}

std::string lines(std::initializer_list<std::string> items) {
    std::string out;
    for (const auto& s : items) out += s + "\n";
    return out;
}

// The loaded config; fails the test (showing the errors) if there is none.
cfg::Config ok(const cfg::LoadResult& r) {
    INFO(all_errors(r));
    REQUIRE(r.errors.empty());
    REQUIRE(r.config.has_value());
    return *r.config;
}

// The one error of a result.
cfg::Error only_error(const cfg::LoadResult& r) {
    INFO(all_errors(r));
    REQUIRE(r.errors.size() == 1);
    CHECK_FALSE(r.config.has_value());
    return r.errors.front();
}

bool has_error(const cfg::LoadResult& r, std::string_view text) {
    return std::any_of(r.errors.begin(), r.errors.end(),
                       [&](const cfg::Error& e) { return e.to_string().find(text) != std::string::npos; });
}

// A service wrapped in a minimal configuration.
std::string with_service(std::string_view name, std::string_view body) {
    return "{\"services\": {\"" + std::string(name) + "\": " + std::string(body) + "}}";
}

class TempDir {
public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "sb-config-test-XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] std::string path(std::string_view relative = "") const {
        return relative.empty() ? path_ : path_ + "/" + std::string(relative);
    }
    std::string write(std::string_view relative, std::string_view text) const {
        std::string full = path(relative);
        std::filesystem::create_directories(std::filesystem::path(full).parent_path());
        std::ofstream out(full, std::ios::binary);
        out << text;
        return full;
    }

private:
    std::string path_;
};

}  // namespace

TEST_CASE("a minimal configuration gets the documented defaults") {
    cfg::Config c = ok(load(R"({"services": {"echo": {"listen": "tcp://127.0.0.1:7", "builtin": "echo"}}})"));
    CHECK(c.file == k_name);
    CHECK(c.files == std::vector<std::string>{k_name});
    CHECK(c.watch_dirs == std::vector<std::string>{"/virtual/etc"});
    CHECK_FALSE(c.watch);
    CHECK(c.control.socket == "/run/switchboard/control.sock");
    CHECK(c.control.mode == 0600);
    CHECK_FALSE(c.control.tcp.has_value());
    CHECK(c.log.format == cfg::LogFormat::text);
    CHECK(c.log.level == cfg::LogLevel::info);
    CHECK(c.limits.max_children == 1024);
    CHECK(c.limits.max_connections == cfg::k_unlimited);
    CHECK(c.shutdown_grace == 10s);
    CHECK(c.drain_grace == 30s);
    REQUIRE(c.services.size() == 1);
    const cfg::Service& echo = c.services.at("echo");
    CHECK(echo.name == "echo");
    CHECK(echo.file == k_name);
    CHECK(echo.enabled);
    REQUIRE(echo.listen.size() == 1);
    CHECK(echo.listen[0].endpoint.to_string() == "tcp://127.0.0.1:7");
    CHECK(echo.listen[0].options == cfg::SocketOptions{});
    REQUIRE(echo.builtin() != nullptr);
    CHECK(*echo.builtin() == cfg::Builtin::echo);
    cfg::Admission bounded;  // built-ins: the fd budget, and what one source may hold
    bounded.per_source = cfg::k_default_per_source;
    CHECK(echo.admission == bounded);
    CHECK(echo.timeouts == cfg::Timeouts{cfg::k_builtin_default_idle, {}});
}

TEST_CASE("every key reaches its field") {
    const char* text = R"({
  "$schema": "switchboard.schema.json",
  "control": { "socket": "", "mode": "0660", "group": 4, "tcp": "tcp://127.0.0.1:7070" },
  "log": { "format": "json", "level": "debug", "file": "/var/log/switchboard.log" },
  "limits": { "max_connections": 5000, "max_children": 64 },
  "watch": true,
  "shutdown_grace": 2.5,
  "drain_grace": "1m",
  "defaults": { "per_source": 8, "timeouts": { "idle": "10m" }, "banner_fail": "busy\r\n" },
  "services": {
    "git": {
      "listen": ["tcp://*:9418", "tcp://[::1]:9419"],
      "socket": { "backlog": 128, "reuse_port": true, "v6only": false, "nodelay": false, "keepalive": true },
      "exec": {
        "argv": ["/usr/lib/git-core/git-daemon", "--inetd"],
        "io": "socket",
        "user": 1000, "group": 1000,
        "cwd": "/srv/git", "umask": "0027", "nice": -5,
        "rlimits": { "nofile": 1024, "nproc": [64, 128], "as": "1G", "cpu": "1h", "core": 0, "fsize": "unlimited" },
        "no_new_privileges": true, "new_session": false,
        "env": { "HOME": "/srv/git", "LANG": "C.UTF-8" },
        "pass_env": ["TZ"],
        "grace": "250ms"
      },
      "allow": ["10.0.0.0/8", "2001:db8::/32"],
      "deny": ["10.66.0.0/16"],
      "max_connections": 100, "on_limit": "reject", "per_source": 4,
      "source_prefix": { "ipv6": 64 },
      "rate": { "per_second": 20, "burst": 40 },
      "source_rate": { "per_second": 0.5 },
      "timeouts": { "max_duration": "2h" },
      "banner": "hello\n",
      "enabled": false
    },
    "words": {
      "listen": "unix:/run/words.sock",
      "socket": { "mode": "0660", "owner": 0, "group": "0" },
      "exec": { "argv": ["/usr/local/bin/wordsd"], "wait": true, "fds": "systemd" },
      "max_children": 0
    },
    "local": {
      "listen": "unix:/run/local.sock",
      "exec": { "argv": ["/bin/cat"] },
      "peer_uids": [0, 1000], "peer_gids": [0],
      "max_connections": 0
    }
  }
})";
    cfg::Config c = ok(load(text));
    CHECK(c.control.socket.empty());
    CHECK(c.control.mode == 0660);
    CHECK(c.control.group == gid_t{4});
    REQUIRE(c.control.tcp.has_value());
    CHECK(c.control.tcp->to_string() == "tcp://127.0.0.1:7070");
    CHECK(c.log.format == cfg::LogFormat::json);
    CHECK(c.log.level == cfg::LogLevel::debug);
    CHECK(c.log.file == "/var/log/switchboard.log");
    CHECK(c.limits.max_connections == 5000);
    CHECK(c.limits.max_children == 64);
    CHECK(c.watch);
    CHECK(c.shutdown_grace == 2500ms);
    CHECK(c.drain_grace == 1min);

    const cfg::Service& git = c.services.at("git");
    CHECK_FALSE(git.enabled);
    REQUIRE(git.listen.size() == 2);
    CHECK(git.listen[0].endpoint.any);
    cfg::SocketOptions expected_socket;
    expected_socket.backlog = 128;
    expected_socket.reuse_port = true;
    expected_socket.v6only = false;
    expected_socket.nodelay = false;
    expected_socket.keepalive = true;
    CHECK(git.listen[0].options == expected_socket);
    CHECK(git.listen[1].options == expected_socket);  // one "socket" applies to every listener

    REQUIRE(git.exec() != nullptr);
    const cfg::Exec& e = *git.exec();
    CHECK(e.argv == std::vector<std::string>{"/usr/lib/git-core/git-daemon", "--inetd"});
    CHECK(e.io == cfg::IoMode::socket);
    CHECK_FALSE(e.wait);
    CHECK(e.credentials.uid == uid_t{1000});
    CHECK(e.credentials.gid == gid_t{1000});
    CHECK(e.cwd == "/srv/git");
    CHECK(e.umask == mode_t{027});
    CHECK(e.nice == -5);
    REQUIRE(e.rlimits.size() == 6);
    auto limit = [&](std::string_view name) {
        auto it = std::find_if(e.rlimits.begin(), e.rlimits.end(), [&](const cfg::Rlimit& l) { return l.name == name; });
        REQUIRE(it != e.rlimits.end());
        return *it;
    };
    CHECK(limit("nofile").resource == RLIMIT_NOFILE);
    CHECK(limit("nofile").soft == 1024);
    CHECK(limit("nofile").hard == 1024);
    CHECK(limit("nproc").soft == 64);
    CHECK(limit("nproc").hard == 128);
    CHECK(limit("as").soft == 1ULL << 30);
    CHECK(limit("cpu").resource == RLIMIT_CPU);
    CHECK(limit("cpu").hard == 3600);
    CHECK(limit("core").soft == 0);
    CHECK(limit("fsize").soft == RLIM_INFINITY);
    CHECK(e.no_new_privileges);
    CHECK_FALSE(e.new_session);
    CHECK(e.env == std::map<std::string, std::string>{{"HOME", "/srv/git"}, {"LANG", "C.UTF-8"}});
    CHECK(e.pass_env == std::vector<std::string>{"TZ"});
    CHECK(e.grace == 250ms);

    const cfg::Admission& a = git.admission;
    REQUIRE(a.allow.size() == 2);
    CHECK(a.allow[0].to_string() == "10.0.0.0/8");
    CHECK(a.allow[1].to_string() == "2001:db8::/32");
    REQUIRE(a.deny.size() == 1);
    CHECK(a.max_connections == 100);
    CHECK(a.max_children == 100);  // unset on an exec service: its max_connections
    CHECK(a.on_limit == cfg::OnLimit::reject);
    CHECK(a.per_source == 4);      // the service's own key wins over defaults
    CHECK(a.source_prefix_v4 == 32);
    CHECK(a.source_prefix_v6 == 64);
    CHECK(a.rate.per_second == 20);
    CHECK(a.rate.burst == 40);
    CHECK(a.source_rate.per_second == 0.5);
    CHECK(a.source_rate.burst == 1);  // default burst: max(1, per_second)
    CHECK(a.banner.text == "hello\n");
    CHECK(a.banner.file.empty());
    CHECK(a.banner_fail.text == "busy\r\n");  // from defaults
    CHECK(git.timeouts.idle == 10min);         // from defaults: timeouts merge field by field
    CHECK(git.timeouts.max_duration == 2h);

    const cfg::Service& words = c.services.at("words");
    REQUIRE(words.listen.size() == 1);
    CHECK(words.listen[0].endpoint.transport == sb::net::Transport::unix_stream);
    CHECK(words.listen[0].options.mode == 0660);
    CHECK(words.listen[0].options.owner == uid_t{0});
    CHECK(words.listen[0].options.group == gid_t{0});
    REQUIRE(words.exec() != nullptr);
    CHECK(words.exec()->wait);
    CHECK(words.exec()->fds == cfg::FdStyle::systemd);
    CHECK(words.admission.max_children == 0);  // explicitly unlimited
    const cfg::Service& local = c.services.at("local");
    CHECK(local.admission.peer_uids == std::vector<uid_t>{0, 1000});
    CHECK(local.admission.peer_gids == std::vector<gid_t>{0});
    CHECK(local.admission.max_connections == 0);  // explicitly unlimited
    CHECK(local.admission.max_children == 0);     // follows max_connections
    CHECK(words.admission.per_source == 8);
}

TEST_CASE("exec services get a finite default; built-ins do not") {
    cfg::Config c = ok(load(R"({"services": {
        "cat": {"listen": "tcp://127.0.0.1:1", "exec": {"argv": ["/bin/cat"]}},
        "echo": {"listen": "tcp://127.0.0.1:2", "builtin": "echo"}}})"));
    CHECK(c.services.at("cat").admission.max_connections == cfg::k_exec_default_max_connections);
    CHECK(c.services.at("cat").admission.max_children == cfg::k_exec_default_max_connections);
    CHECK(c.services.at("cat").exec()->io == cfg::IoMode::splice);
    CHECK(c.services.at("cat").exec()->new_session);
    CHECK(c.services.at("echo").admission.max_connections == cfg::k_unlimited);

    // A limit in defaults counts as set, for exec services too.
    cfg::Config d = ok(load(R"({"defaults": {"max_connections": 7, "max_children": 3}, "services": {
        "cat": {"listen": "tcp://127.0.0.1:1", "exec": {"argv": ["/bin/cat"]}},
        "echo": {"listen": "tcp://127.0.0.1:2", "builtin": "echo"}}})"));
    CHECK(d.services.at("cat").admission.max_connections == 7);
    CHECK(d.services.at("cat").admission.max_children == 3);
    CHECK(d.services.at("echo").admission.max_connections == 7);
}

TEST_CASE("errors name the file, the pointer and the line:column of the value") {
    const char* text = R"({
  "services": {
    "git": {
      "listen": ["tcp://*:9418"],
      "exec": { "argv": ["/usr/bin/git"], "user": 12 , "nice": "high" }
    }
  }
})";
    cfg::Error e = only_error(load(text));
    CHECK(e.file == k_name);
    CHECK(e.pointer == "/services/git/exec/nice");
    CHECK(e.line == 5);
    CHECK(e.column == 64);
    CHECK(e.message == "expected a whole number, got string");
    CHECK(e.to_string() == "/virtual/etc/switchboard.json:5:64: /services/git/exec/nice: expected a whole number, got string");
}

TEST_CASE("Error::to_string leaves out what is unknown") {
    CHECK(cfg::Error{"f.json", "/a", 3, 4, "bad"}.to_string() == "f.json:3:4: /a: bad");
    CHECK(cfg::Error{"f.json", "", 3, 4, "bad"}.to_string() == "f.json:3:4: bad");
    CHECK(cfg::Error{"f.json", "/a", 0, 0, "bad"}.to_string() == "f.json: /a: bad");
    CHECK(cfg::Error{"f.json", "", 0, 0, "bad"}.to_string() == "f.json: bad");
    CHECK(cfg::Error{"", "", 0, 0, "bad"}.to_string() == "bad");
}

TEST_CASE("wrong types say what was expected and what was found") {
    auto r = load(R"({"log": {"format": 1, "file": ["x"]}, "watch": "yes",
                      "services": {"a": {"listen": 5, "builtin": true}}})");
    CHECK(all_errors(r) == lines({
        "/virtual/etc/switchboard.json:1:20: /log/format: expected a string, got number",
        "/virtual/etc/switchboard.json:1:31: /log/file: expected a string, got array",
        "/virtual/etc/switchboard.json:1:48: /watch: expected true or false, got string",
        "/virtual/etc/switchboard.json:2:52: /services/a/listen: expected an address string or an array of them, got number",
        "/virtual/etc/switchboard.json:2:66: /services/a/builtin: expected a string, got boolean",
    }));
    CHECK(only_error(load("[]")).message == "expected an object, got array");
    CHECK(only_error(load("null")).message == "expected an object, got null");
    CHECK(only_error(load(R"({"services": []})")).message ==
          "expected an object of service names to services, got array");
}

TEST_CASE("unknown keys are errors, with a suggestion when one is close") {
    auto r = load(R"({"services": {"a": {"listen": "tcp://127.0.0.1:1", "builtin": "echo",
        "max_conections": 5, "sockets": {}, "timeout": {"idle": 1}, "frobnicate": 1}}})");
    CHECK(has_error(r, "/services/a/max_conections: unknown key \"max_conections\"; did you mean \"max_connections\"?"));
    CHECK(has_error(r, "/services/a/sockets: unknown key \"sockets\"; did you mean \"socket\"?"));
    CHECK(has_error(r, "/services/a/timeout: unknown key \"timeout\"; did you mean \"timeouts\"?"));
    CHECK(has_error(r, "/services/a/frobnicate: unknown key \"frobnicate\""));
    CHECK(r.errors.size() == 4);
    // Unknown keys point at the key itself.
    auto e = std::find_if(r.errors.begin(), r.errors.end(), [](const cfg::Error& x) { return x.pointer == "/services/a/sockets"; });
    REQUIRE(e != r.errors.end());
    CHECK(e->line == 2);
    CHECK(e->column == 30);

    // Small objects list what they accept.
    CHECK(only_error(load(R"({"log": {"colour": true}})")).message ==
          "unknown key \"colour\"; expected \"format\", \"level\" or \"file\"");
    CHECK(only_error(load(R"({"Services": {}})")).message == "unknown key \"Services\"; did you mean \"services\"?");
}

TEST_CASE("keys in the wrong place say where they belong") {
    auto r = load(with_service("a", R"({"listen": "tcp://127.0.0.1:1", "exec": {"argv": ["/bin/cat"]},
        "user": "nobody", "backlog": 5, "idle": "1m", "socket_mode": "0660"})"));
    CHECK(has_error(r, "/services/a/user: unknown key \"user\"; it belongs inside \"exec\""));
    CHECK(has_error(r, "/services/a/backlog: unknown key \"backlog\"; it belongs inside \"socket\""));
    CHECK(has_error(r, "/services/a/idle: unknown key \"idle\"; it belongs inside \"timeouts\""));
    CHECK(has_error(r, "/services/a/socket_mode: unknown key \"socket_mode\"; write \"socket\": {\"mode\": \"0660\"}"));
    CHECK(r.errors.size() == 4);

    CHECK(only_error(load(R"({"defaults": {"listen": "tcp://*:1"}})")).to_string() ==
          "/virtual/etc/switchboard.json:1:15: /defaults/listen: \"listen\" cannot be set in \"defaults\"; each service has its own");
}

TEST_CASE("enumerated values suggest the closest one") {
    CHECK(only_error(load(with_service("a", R"({"listen": "tcp://127.0.0.1:1", "builtin": "ecoh"})"))).message ==
          "unknown builtin \"ecoh\"; did you mean \"echo\"?");
    CHECK(only_error(load(with_service("a", R"({"listen": "tcp://127.0.0.1:1", "builtin": "finger"})"))).message ==
          "unknown builtin \"finger\"; expected \"echo\", \"discard\", \"chargen\", \"daytime\", \"time\" or "
          "\"tcpmux\"");
    CHECK(only_error(load(R"({"log": {"level": "warn"}})")).message ==
          "unknown log level \"warn\"; did you mean \"warning\"?");
}

TEST_CASE("every error is listed, not just the first") {
    const char* text = R"({
  "log": { "level": "loud" },
  "services": {
    "a": { "listen": "tcp://127.0.0.1:70000", "builtin": "echo" },
    "b": { "listen": "tcp://localhost:7", "builtin": "echo" },
    "c": { "listen": "tcp://127.0.0.1:9", "exec": { "argv": ["cat"] } },
    "d": { "listen": "tcp://127.0.0.1:10", "builtin": "echo" }
  }
})";
    auto r = load(text);
    CHECK_FALSE(r.config.has_value());
    CHECK(all_errors(r) == lines({
        "/virtual/etc/switchboard.json:2:21: /log/level: unknown log level \"loud\"; expected \"debug\", \"info\", \"warning\" or \"error\"",
        "/virtual/etc/switchboard.json:4:22: /services/a/listen: port 70000 is out of range 1-65535",
        "/virtual/etc/switchboard.json:5:22: /services/b/listen: host names are not allowed here (\"localhost\"); use an IP address such as 127.0.0.1 or [::1], or \"*\" for all interfaces",
        "/virtual/etc/switchboard.json:6:62: /services/c/exec/argv/0: argv[0] must be an absolute path, got \"cat\"",
    }));
}

TEST_CASE("malformed JSON reports nlohmann's position as line:column") {
    cfg::Error e = only_error(load("{\n  \"services\": {\n    \"a\": tru\n  }\n}"));
    CHECK(e.file == k_name);
    CHECK(e.pointer.empty());
    CHECK(e.line == 3);
    CHECK(e.column == 13);
    CHECK(e.message.starts_with("invalid JSON: syntax error while parsing value - invalid literal"));

    cfg::Error missing_comma = only_error(load("{\n  \"log\": {}\n  \"watch\": true\n}"));
    CHECK(missing_comma.line == 3);
    CHECK(missing_comma.column == 9);  // nlohmann reports the end of the token it choked on
    CHECK(missing_comma.message.find("expected '}'") != std::string::npos);

    cfg::Error truncated = only_error(load("{\"services\": {"));
    CHECK(truncated.line == 1);
    CHECK(truncated.column == 15);
    CHECK(truncated.message.find("unexpected end of input") != std::string::npos);

    cfg::Error empty = only_error(load(""));
    CHECK(empty.line == 1);
    CHECK(empty.column == 1);

    cfg::Error overflow = only_error(load("{\n  \"watch\": 1e999\n}"));
    CHECK(overflow.line == 2);
    CHECK(overflow.column == 12);
    CHECK(overflow.message == "invalid JSON: the number 1e999 is out of range");

    CHECK(only_error(load("{\"watch\": true} trailing")).message.find("expected end of input") != std::string::npos);
    CHECK(only_error(load("{\"watch\": true, // comment\n}")).line == 1);
}

TEST_CASE("columns count characters, not bytes") {
    cfg::Error e = only_error(load("{\"log\": {\"file\": \"/é/ü\", \"level\": 1}}"));
    CHECK(e.pointer == "/log/level");
    CHECK(e.line == 1);
    CHECK(e.column == 35);
}

TEST_CASE("a key given twice in one object is an error, not a silent override") {
    const char* text = R"({
  "services": {
    "echo": { "listen": "tcp://127.0.0.1:7", "builtin": "echo" },
    "echo": { "listen": "tcp://127.0.0.1:8", "builtin": "echo" }
  }
})";
    cfg::Error e = only_error(load(text));
    CHECK(e.to_string() ==
          "/virtual/etc/switchboard.json:4:5: /services/echo: duplicate key \"echo\"; it is also set at line 3, column 5");
}

TEST_CASE("numbers out of range") {
    CHECK(only_error(load(R"({"limits": {"max_children": -1}})")).message ==
          "max_children -1 is out of range 0-4294967295");
    CHECK(only_error(load(R"({"limits": {"max_children": 4294967296}})")).message ==
          "max_children 4294967296 is out of range 0-4294967295");
    CHECK(only_error(load(R"({"limits": {"max_children": 1e300}})")).message ==
          "max_children 1e+300 is out of range 0-4294967295");
    CHECK(only_error(load(R"({"limits": {"max_children": 2.5}})")).message == "expected a whole number, got 2.5");
    CHECK(ok(load(R"({"limits": {"max_children": 8.0}})")).limits.max_children == 8);
    CHECK(only_error(load(R"({"limits": {"max_children": 99999999999999999999999}})")).message ==
          "max_children 1e+23 is out of range 0-4294967295");  // not 9.999999999999999e+22
    CHECK(only_error(load(with_service("a", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo",
          "socket": {"backlog": 0}})"))).message == "backlog 0 is out of range 1-65535");
    CHECK(only_error(load(with_service("a", R"({"listen": "tcp://127.0.0.1:1", "exec": {"argv": ["/bin/cat"],
          "nice": -21}})"))).message == "nice -21 is out of range from -20 to 19");
    CHECK(only_error(load(with_service("a", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo",
          "source_prefix": {"ipv4": 33}})"))).message == "ipv4 33 is out of range 0-32");
}

TEST_CASE("durations in the config: numbers of seconds or strings") {
    cfg::Config c = ok(load(R"({"shutdown_grace": 0.25, "drain_grace": "2h", "defaults": {"timeouts": {"idle": 0}}})"));
    CHECK(c.shutdown_grace == 250ms);
    CHECK(c.drain_grace == 2h);
    CHECK(only_error(load(R"({"shutdown_grace": -3})")).to_string() ==
          "/virtual/etc/switchboard.json:1:20: /shutdown_grace: duration -3 must not be negative");
    CHECK(only_error(load(R"({"shutdown_grace": "10 minutes"})")).message ==
          "unknown unit \" minutes\" in duration \"10 minutes\"; use ms, s, m or h");
    CHECK(only_error(load(R"({"shutdown_grace": 1e12})")).message == "duration 1e+12 is too long (at most 365 days)");
    CHECK(only_error(load(R"({"drain_grace": true})")).message ==
          "expected a duration (a number of seconds or a string like \"30s\"), got boolean");
}

TEST_CASE("service names") {
    std::string longest(64, 'a');
    CHECK(ok(load(with_service(longest, R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo"})"))).services.contains(longest));
    CHECK(ok(load(with_service("9p.v2_x-y", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo"})"))).services.size() == 1);
    const std::string rule = "; names are 1-64 letters, digits, \"_\", \".\" or \"-\", starting with a letter or digit";
    CHECK(only_error(load(with_service(longest + "a", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo"})"))).message ==
          "invalid service name \"" + longest + "a\"" + rule);
    CHECK(only_error(load(with_service("-x", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo"})"))).message ==
          "invalid service name \"-x\"" + rule);
    CHECK(only_error(load(with_service("", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo"})"))).message ==
          "invalid service name \"\"" + rule);
    CHECK(only_error(load(with_service("a/b", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo"})"))).pointer ==
          "/services/a~1b");
}

TEST_CASE("a service needs listen and exactly one action") {
    CHECK(only_error(load(with_service("a", R"({"builtin": "echo"})"))).message == "service \"a\" has no \"listen\" address (nor a \"tcpmux\" name)");
    CHECK(only_error(load(with_service("a", R"({"listen": [], "builtin": "echo"})"))).message ==
          "listen needs at least one address");
    CHECK(only_error(load(with_service("a", R"({"listen": "tcp://127.0.0.1:1"})"))).message ==
          "service \"a\" needs \"builtin\", \"exec\" or \"redirect\" to say what to do with a connection");
    cfg::Error both = only_error(load(with_service("a", R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo",
        "exec": {"argv": ["/bin/cat"]}})")));
    CHECK(both.pointer == "/services/a/exec");
    CHECK(both.message == "a service has exactly one of \"builtin\", \"exec\" and \"redirect\"; this one has both \"builtin\" and \"exec\"");
}

TEST_CASE("redirect rules") {
    auto svc = [](std::string_view listen, std::string_view redirect) {
        return with_service("r", "{\"listen\": \"" + std::string(listen) + "\", \"redirect\": " + std::string(redirect) + "}");
    };
    auto ok = load(svc("tcp://127.0.0.1:1", R"({"to": "tcp://db.internal:5432", "connect_timeout": "250ms",
        "source": "127.0.0.2", "proxy_protocol": "v2"})"));
    REQUIRE(ok.errors.empty());
    const cfg::Redirect* r = ok.config->services.at("r").redirect();
    REQUIRE(r != nullptr);
    CHECK(r->to.host == "db.internal");
    CHECK(r->to.port == 5432);
    CHECK(r->connect_timeout == std::chrono::milliseconds(250));
    CHECK(r->source == "127.0.0.2");
    CHECK(r->proxy_protocol == cfg::ProxyVersion::v2);
    CHECK(ok.config->services.at("r").admission.per_source == cfg::k_default_per_source);

    auto unix_target = load(svc("unix:/tmp/x.sock", R"({"to": "unix:/run/app.sock"})"));
    REQUIRE(unix_target.errors.empty());
    CHECK(unix_target.config->services.at("r").redirect()->connect_timeout == std::chrono::seconds(5));

    cfg::Error udp_to = only_error(load(svc("tcp://127.0.0.1:1", R"({"to": "udp://127.0.0.1:53"})")));
    CHECK(udp_to.pointer == "/services/r/redirect/to");
    CHECK(udp_to.message.find("UDP redirect is out of scope") != std::string::npos);
    cfg::Error udp_listen = only_error(load(svc("udp://127.0.0.1:1", R"({"to": "tcp://127.0.0.1:53"})")));
    CHECK(udp_listen.pointer == "/services/r/listen");
    CHECK(udp_listen.message.find("UDP redirect is out of scope") != std::string::npos);
    CHECK(only_error(load(svc("tcp://127.0.0.1:1", R"({})"))).message ==
          "redirect needs \"to\": \"tcp://HOST:PORT\" or \"unix:/path\"");
    CHECK(only_error(load(svc("tcp://127.0.0.1:1", R"({"to": "tcp://h:1", "source": "example.com"})"))).message ==
          "source must be an IPv4 or IPv6 address literal, got \"example.com\"");
    CHECK(only_error(load(svc("tcp://127.0.0.1:1", R"({"to": "unix:/x", "source": "127.0.0.1"})"))).message ==
          "source applies only to tcp:// targets");
    CHECK(only_error(load(svc("tcp://127.0.0.1:1", R"({"to": "tcp://h:1", "proxy_protocol": "v3"})")))
              .pointer == "/services/r/redirect/proxy_protocol");
    CHECK(only_error(load(svc("tcp://127.0.0.1:1", R"({"to": "tcp://h:1", "connect_timeout": 0})"))).message ==
          "connect_timeout must be longer than 0");
    CHECK(only_error(load(svc("tcp://127.0.0.1:1", R"({"to": "tcp://h:1"}, "max_children": 3)"))).message ==
          "max_children applies only to exec services");
}

TEST_CASE("proxy_protocol (accepting) rules") {
    auto svc = [](std::string_view body) { return with_service("p", std::string(body)); };
    auto ok = load(svc(R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo",
        "proxy_protocol": {"trusted": ["10.0.0.0/8", "192.0.2.1"], "timeout": "1s"}})"));
    REQUIRE(ok.errors.empty());
    const auto& pp = ok.config->services.at("p").proxy_protocol;
    REQUIRE(pp.has_value());
    CHECK(pp->trusted.size() == 2);
    CHECK(pp->timeout == std::chrono::seconds(1));
    CHECK(only_error(load(svc(R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo", "proxy_protocol": {}})")))
              .message == "proxy_protocol needs \"trusted\": the addresses of the balancers that send PROXY headers");
    CHECK(only_error(load(svc(R"({"listen": "tcp://127.0.0.1:1", "builtin": "echo",
        "proxy_protocol": {"trusted": []}})"))).message ==
          "trusted needs at least one address or prefix: the balancers that send PROXY headers");
    CHECK(only_error(load(svc(R"({"listen": "unix:/tmp/p.sock", "builtin": "echo",
        "proxy_protocol": {"trusted": ["10.0.0.1"]}})"))).message ==
          "proxy_protocol applies only to tcp:// listeners; \"unix:/tmp/p.sock\" is not one");
    CHECK(only_error(load(svc(R"({"listen": "tcp://127.0.0.1:1", "exec": {"argv": ["/bin/cat"], "wait": true},
        "proxy_protocol": {"trusted": ["10.0.0.1"]}})"))).message ==
          "proxy_protocol does not apply to a service with \"wait\": true: its child accepts the connections itself");
}

TEST_CASE("exec rules") {
    auto svc = [](std::string_view listen, std::string_view exec) {
        return with_service("x", "{\"listen\": \"" + std::string(listen) + "\", \"exec\": " + std::string(exec) + "}");
    };
    cfg::Error udp = only_error(load(svc("udp://*:69", R"({"argv": ["/usr/sbin/in.tftpd"]})")));
    CHECK(udp.pointer == "/services/x/listen");
    CHECK(udp.message == "UDP exec services need \"wait\": true");
    CHECK(ok(load(svc("udp://*:69", R"({"argv": ["/usr/sbin/in.tftpd"], "wait": true})"))).services.at("x").exec()->wait);

    // A wait-mode child takes its connections itself: per-connection admission cannot apply.
    auto wait_with = [](std::string_view listen, std::string_view keys) {
        return load(with_service("x", "{\"listen\": \"" + std::string(listen) +
                                          "\", \"exec\": {\"argv\": [\"/bin/cat\"], \"wait\": true}, " +
                                          std::string(keys) + "}"));
    };
    cfg::Error per_source = only_error(wait_with("tcp://*:1", R"("per_source": 2)"));
    CHECK(per_source.pointer == "/services/x/per_source");
    CHECK(per_source.message ==
          "\"per_source\" does not apply to a service with \"wait\": true: its child accepts the connections itself");
    CHECK(only_error(wait_with("tcp://*:1", R"("allow": ["10.0.0.0/8"])")).message ==
          "\"allow\" does not apply to a service with \"wait\": true: its child accepts the connections itself");
    CHECK(only_error(wait_with("udp://*:69", R"("banner": "hi")")).message ==
          "\"banner\" does not apply to a service with \"wait\": true: its child reads the datagrams itself; "
          "allow, deny and rate apply per datagram");
    CHECK(ok(wait_with("udp://*:69", R"("allow": ["10.0.0.0/8"], "rate": {"per_second": 5}, "max_children": 1)"))
              .services.at("x").admission.allow.size() == 1);
    CHECK(ok(wait_with("tcp://*:1", R"("max_children": 1)")).services.at("x").admission.max_children == 1);
    // What "defaults" sets applies where it can, and is no error here.
    CHECK(ok(load(R"({"defaults": {"per_source": 4}, "services": {"x": {"listen": "tcp://*:1",
        "exec": {"argv": ["/bin/cat"], "wait": true}}}})")).services.size() == 1);

    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "fds": "systemd"})"))).message ==
          "\"fds\" applies only with \"wait\": true");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "wait": true, "io": "socket"})"))).message ==
          "\"io\" has no effect with \"wait\": true (the child gets the listening socket itself)");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": []})"))).message == "argv must name the program to run");
    CHECK(only_error(load(svc("tcp://*:1", R"({"io": "splice"})"))).message ==
          "exec needs \"argv\", the program to run and its arguments");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": "/bin/cat"})"))).message ==
          "expected an array of strings (the program and its arguments), got string");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat", "a\u0000b"]})"))).message ==
          "argv must not contain a NUL byte");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "cwd": "srv"})"))).message ==
          "cwd must be an absolute path, got \"srv\"");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "umask": "0999"})"))).message ==
          "invalid umask \"0999\"; expected an octal string like \"0022\"");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "umask": "01777"})"))).message ==
          "umask \"01777\" is out of range (at most 0777)");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "env": {"1X": "a"}})"))).message ==
          "invalid environment variable name \"1X\"; names are letters, digits and \"_\", not starting with a digit");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "env": {"A": 1}})"))).message ==
          "expected a string, got number");
    CHECK(only_error(load(svc("tcp://*:1", R"({"argv": ["/bin/cat"], "pass_env": ["A=B"]})"))).message ==
          "invalid environment variable name \"A=B\"; names are letters, digits and \"_\", not starting with a digit");
}

TEST_CASE("rlimits") {
    auto limits = [](std::string_view rlimits) {
        return load(with_service("x", "{\"listen\": \"tcp://*:1\", \"exec\": {\"argv\": [\"/bin/cat\"], \"rlimits\": " +
                                          std::string(rlimits) + "}}"));
    };
    CHECK(only_error(limits(R"({"nofile": [10, 5]})")).message == "the soft limit 10 is above the hard limit 5");
    CHECK(only_error(limits(R"({"nofile": [10, 20, 30]})")).message == "a limit pair is [soft, hard], got 3 values");
    CHECK(only_error(limits(R"({"nofile": "1K"})")).message == "expected a number or \"unlimited\", got string");
    CHECK(only_error(limits(R"({"as": "1GB"})")).message ==
          "unknown unit \"GB\" in size \"1GB\"; use K, M, G or T (powers of 1024)");
    CHECK(only_error(limits(R"({"cpu": 1.5})")).message == "the cpu limit is counted in whole seconds");
    CHECK(only_error(limits(R"({"stack": 1})")).message ==
          "unknown key \"stack\"; expected \"nofile\", \"nproc\", \"as\", \"cpu\", \"core\" or \"fsize\"");
    cfg::Config c = ok(limits(R"({"nofile": ["unlimited", "unlimited"], "cpu": ["1m", 120]})"));
    const auto& rl = c.services.at("x").exec()->rlimits;
    REQUIRE(rl.size() == 2);
    CHECK(rl[0].name == "nofile");
    CHECK(rl[0].soft == RLIM_INFINITY);
    CHECK(rl[1].name == "cpu");
    CHECK(rl[1].soft == 60);
    CHECK(rl[1].hard == 120);
}

TEST_CASE("admission values") {
    auto admission = [](std::string_view keys) {
        return load(with_service("x", "{\"listen\": \"tcp://*:1\", \"builtin\": \"echo\", " + std::string(keys) + "}"));
    };
    CHECK(only_error(admission(R"("allow": ["10.0.0.1/8"])")).message ==
          "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?");
    CHECK(only_error(admission(R"("allow": ["10.0.0.0/8", "nonsense"])")).pointer == "/services/x/allow/1");
    CHECK(only_error(admission(R"("deny": "10.0.0.0/8")")).message ==
          "expected an array of addresses or prefixes like \"10.0.0.0/8\", got string");
    CHECK(only_error(admission(R"("on_limit": "rejct")")).message ==
          "unknown on_limit value \"rejct\"; did you mean \"reject\"?");
    CHECK(only_error(admission(R"("rate": {"per_second": 0})")).message == "per_second must be greater than 0, got 0");
    CHECK(only_error(admission(R"("rate": {"burst": 5})")).message == "a rate needs \"per_second\"");
    CHECK(only_error(admission(R"("rate": {"per_second": 5, "burst": 0.5})")).message ==
          "burst must be at least 1, got 0.5");
    CHECK(only_error(admission(R"("max_children": 4)")).message == "max_children applies only to exec services");
    CHECK(only_error(admission(R"("peer_uids": [0])")).message == "peer_uids applies only to unix: listeners");
    CHECK(only_error(admission(R"("socket": {"owner": 0})")).message == "socket owner applies only to unix: listeners");
    CHECK(only_error(admission(R"("banner": 5)")).message == "expected a string or an object with \"file\", got number");
    auto path = admission(R"("banner": {"path": "x"})");
    CHECK(all_errors(path) == lines({
        "/virtual/etc/switchboard.json:1:73: /services/x/banner: banner needs \"file\" (or write the text itself as a string)",
        "/virtual/etc/switchboard.json:1:74: /services/x/banner/path: unknown key \"path\"; expected \"file\"",
    }));
    CHECK(only_error(admission(R"("banner": "x", "timeouts": {"idle": "1x"})")).pointer == "/services/x/timeouts/idle");
    CHECK(only_error(admission(("\"banner\": \"" + std::string(65537, 'x') + "\"").c_str())).message ==
          "banner is longer than 65536 bytes");

    cfg::Config c = ok(admission(R"("rate": {"per_second": 0.1}, "allow_reflection": true)"));
    CHECK(c.services.at("x").admission.rate.burst == 1);
    CHECK(c.services.at("x").admission.allow_reflection);
    CHECK(ok(admission(R"("rate": {"per_second": 250})")).services.at("x").admission.rate.burst == 250);

    // peer credentials are fine for a service with a UNIX listener among others.
    CHECK(ok(load(with_service("x", R"({"listen": ["tcp://*:1", "unix:/run/x.sock"], "builtin": "echo",
        "peer_uids": [0], "socket": {"mode": "0600"}})"))).services.at("x").admission.peer_uids == std::vector<uid_t>{0});
}

TEST_CASE("control: only a loopback TCP address") {
    auto control = [](std::string_view tcp) {
        return load("{\"control\": {\"tcp\": \"" + std::string(tcp) + "\"}}");
    };
    CHECK(ok(control("tcp://127.0.0.1:9000")).control.tcp->port == 9000);
    CHECK(ok(control("tcp://127.1.2.3:9000")).control.tcp->host == "127.1.2.3");
    CHECK(ok(control("tcp://[::1]:9000")).control.tcp->to_string() == "tcp://[::1]:9000");
    for (const char* bad : {"tcp://0.0.0.0:9000", "tcp://*:9000", "tcp://[::]:9000", "tcp://10.0.0.1:9000",
                            "tcp://[::ffff:127.0.0.1]:9000"}) {
        INFO(bad);
        CHECK(only_error(control(bad)).message.starts_with(
            "the control address must be on loopback (127.0.0.0/8 or [::1]), got tcp://"));
    }
    CHECK(only_error(control("udp://127.0.0.1:9000")).message ==
          "the control address must be tcp://HOST:PORT, got \"udp://127.0.0.1:9000\"");
    CHECK(only_error(control("tcp://127.0.0.1")).message ==
          "missing port in \"tcp://127.0.0.1\" (expected tcp://HOST:PORT)");
    CHECK(only_error(load(R"({"control": {"socket": "ctl.sock"}})")).message ==
          "the control socket must be an absolute path, or \"\" for none; got \"ctl.sock\"");
    CHECK(only_error(load(R"({"control": {"mode": "rw"}})")).message ==
          "invalid mode \"rw\"; expected an octal string like \"0600\"");
}

TEST_CASE("address conflicts name both services") {
    const char* text = R"({
  "services": {
    "a": { "listen": ["tcp://127.0.0.1:7", "udp://*:7"], "builtin": "echo" },
    "b": { "listen": ["tcp://*:7"], "builtin": "echo" }
  }
})";
    cfg::Error e = only_error(load(text));
    CHECK(e.to_string() ==
          "/virtual/etc/switchboard.json:4:23: /services/b/listen/0: tcp://*:7 of service \"b\" conflicts with "
          "tcp://127.0.0.1:7 of service \"a\" (/virtual/etc/switchboard.json:3:23)");

    auto pair = [](std::string_view a, std::string_view b) {
        return load("{\"services\": {\"a\": {\"listen\": \"" + std::string(a) +
                    "\", \"builtin\": \"echo\"}, \"b\": {\"listen\": \"" + std::string(b) +
                    "\", \"builtin\": \"echo\"}}}");
    };
    CHECK(pair("tcp://127.0.0.1:7", "tcp://127.0.0.1:7").errors.size() == 1);
    CHECK(pair("tcp://[::1]:7", "tcp://[0::1]:7").errors.size() == 1);
    CHECK(pair("tcp://[::]:7", "tcp://127.0.0.1:7").errors.size() == 1);  // "::" is dual-stack
    CHECK(pair("tcp://0.0.0.0:7", "tcp://127.0.0.1:7").errors.size() == 1);
    CHECK(pair("unix:/run/a.sock", "unix:/run/a.sock").errors.size() == 1);
    CHECK(pair("unix:@a", "unix:@a").errors.size() == 1);
    CHECK(ok(pair("tcp://127.0.0.1:7", "udp://127.0.0.1:7")).services.size() == 2);
    CHECK(ok(pair("tcp://127.0.0.1:7", "tcp://127.0.0.2:7")).services.size() == 2);
    CHECK(ok(pair("tcp://127.0.0.1:7", "tcp://127.0.0.1:8")).services.size() == 2);
    CHECK(ok(pair("tcp://0.0.0.0:7", "tcp://[::1]:7")).services.size() == 2);
    CHECK(ok(pair("unix:/run/a.sock", "unix:@/run/a.sock")).services.size() == 2);

    cfg::Error twice = only_error(load(with_service("a", R"({"listen": ["tcp://*:7", "tcp://*:7"], "builtin": "echo"})")));
    CHECK(twice.pointer == "/services/a/listen/1");
    CHECK(twice.message == "tcp://*:7 conflicts with tcp://*:7, listed earlier in service \"a\"");

    // "::" with v6only leaves IPv4 to others.
    CHECK(ok(load(R"({"services": {
        "a": {"listen": "tcp://[::]:7", "socket": {"v6only": true}, "builtin": "echo"},
        "b": {"listen": "tcp://0.0.0.0:7", "builtin": "echo"}}})")).services.size() == 2);
}

TEST_CASE("includes: globs relative to the main file, read in sorted order") {
    TempDir dir;
    std::string main = dir.write("switchboard.json", R"({
  "defaults": { "per_source": 3 },
  "include": ["services.d/*.json", "extra/none-*.json"],
  "services": { "echo": { "listen": "tcp://127.0.0.1:7", "builtin": "echo" } }
})");
    std::string b = dir.write("services.d/b.json", R"({"services": {"bee": {"listen": "tcp://127.0.0.1:9", "builtin": "discard"}}})");
    std::string a = dir.write("services.d/a.json", R"({"$schema": "../switchboard.schema.json",
        "services": {"ay": {"listen": "tcp://127.0.0.1:8", "builtin": "time"}}})");
    dir.write("services.d/notes.txt", "not json");
    cfg::Config c = ok(cfg::load_file(main));
    CHECK(c.file == main);
    CHECK(c.files == std::vector<std::string>{main, a, b});
    CHECK(c.watch_dirs == std::vector<std::string>{dir.path(), dir.path("services.d")});
    REQUIRE(c.services.size() == 3);
    CHECK(c.services.at("ay").file == a);
    CHECK(c.services.at("bee").file == b);
    CHECK(c.services.at("bee").admission.per_source == 3);  // defaults reach included services

    // A pattern that matches the main file itself does not include it twice.
    std::string self = dir.write("self/main.json", R"({"include": ["*.json"]})");
    std::string other = dir.write("self/other.json", R"({"services": {}})");
    cfg::Config s = ok(cfg::load_file(self));
    CHECK(s.files == std::vector<std::string>{self, other});
}

TEST_CASE("includes: the errors") {
    TempDir dir;
    dir.write("services.d/1.json", R"({"services": {"echo": {"listen": "tcp://127.0.0.1:7", "builtin": "echo"}}})");
    dir.write("services.d/2.json", "{\"services\": {\n  \"echo\": {\"listen\": \"tcp://127.0.0.1:8\", \"builtin\": \"echo\"}}}");
    std::string main = dir.write("main.json", R"({"include": ["services.d/*.json"]})");
    cfg::Error dup = only_error(cfg::load_file(main));
    CHECK(dup.to_string() == dir.path("services.d/2.json") + ":2:3: /services/echo: service \"echo\" is already defined in " +
                                 dir.path("services.d/1.json") + ":1:15");

    std::string missing = dir.write("missing.json", R"({"include": ["nope.json"]})");
    CHECK(only_error(cfg::load_file(missing)).to_string() ==
          missing + ":1:14: /include/0: included file " + dir.path("nope.json") + " does not exist");

    // A symlink loop is not a missing file: the errno's own words.
    REQUIRE(::symlink(dir.path("loop-b.json").c_str(), dir.path("loop-a.json").c_str()) == 0);
    REQUIRE(::symlink(dir.path("loop-a.json").c_str(), dir.path("loop-b.json").c_str()) == 0);
    std::string looped = dir.write("looped.json", R"({"include": ["loop-a.json"]})");
    CHECK(only_error(cfg::load_file(looped)).to_string() ==
          looped + ":1:14: /include/0: included file " + dir.path("loop-a.json") +
              ": Too many levels of symbolic links");

    dir.write("bad/x.json", R"({"log": {"level": "debug"}, "include": ["y.json"], "services": {}})");
    std::string main_bad = dir.write("main-bad.json", R"({"include": ["bad/*.json"]})");
    auto r = cfg::load_file(main_bad);
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].to_string() == dir.path("bad/x.json") + ":1:2: /log: only \"services\" may appear in an included file; \"log\" belongs in the main file, " + main_bad);
    CHECK(r.errors[1].pointer == "/include");

    dir.write("broken/x.json", "{\"services\": {\n  \"a\": }");
    std::string main_broken = dir.write("main-broken.json", R"({"include": ["broken/*.json"]})");
    cfg::Error broken = only_error(cfg::load_file(main_broken));
    CHECK(broken.file == dir.path("broken/x.json"));
    CHECK(broken.line == 2);
    CHECK(broken.column == 8);

    std::filesystem::create_directories(dir.path("dirs/sub.json"));
    std::string main_dir = dir.write("main-dir.json", R"({"include": ["dirs/*.json"]})");
    CHECK(only_error(cfg::load_file(main_dir)).message ==
          "cannot read included file " + dir.path("dirs/sub.json") + ": it is a directory");

    CHECK(only_error(load(R"({"include": "services.d/*.json"})")).message ==
          "expected an array of file patterns like \"services.d/*.json\", got string");
}

TEST_CASE("load_file: an unreadable main file is one clear error") {
    TempDir dir;
    cfg::Error e = only_error(cfg::load_file(dir.path("nope.json")));
    CHECK(e.to_string() == dir.path("nope.json") + ": cannot read the configuration: No such file or directory");
    CHECK(only_error(cfg::load_file(dir.path())).message == "cannot read the configuration: it is a directory");
}

TEST_CASE("banners: literal text or a file next to the config") {
    TempDir dir;
    dir.write("banners/busy.txt", "too busy, try later\r\n");
    std::string main = dir.write("main.json", with_service("x", R"({"listen": "tcp://*:1", "builtin": "echo",
        "banner_fail": {"file": "banners/busy.txt"}})"));
    cfg::Config c = ok(cfg::load_file(main));
    CHECK(c.services.at("x").admission.banner_fail.text == "too busy, try later\r\n");
    CHECK(c.services.at("x").admission.banner_fail.file == dir.path("banners/busy.txt"));

    std::string missing = dir.write("missing.json", with_service("x", R"({"listen": "tcp://*:1", "builtin": "echo",
        "banner": {"file": "nope.txt"}})"));
    cfg::LoadOptions check;
    CHECK(only_error(cfg::load_file(missing, check)).message ==
          "cannot read " + dir.path("nope.txt") + ": No such file or directory");
    cfg::LoadOptions no_check;
    no_check.check_system = false;
    CHECK(cfg::load_file(missing, no_check).errors.empty());

    dir.write("big.txt", std::string(64 * 1024 + 1, 'x'));
    std::string big = dir.write("big.json", with_service("x", R"({"listen": "tcp://*:1", "builtin": "echo",
        "banner": {"file": "big.txt"}})"));
    CHECK(only_error(cfg::load_file(big, check)).message ==
          "cannot read " + dir.path("big.txt") + ": it is larger than 65536 bytes");
}

TEST_CASE("check_system: programs, directories, users and groups must exist") {
    auto exec = [](std::string_view body, bool check) {
        return load(with_service("x", "{\"listen\": \"tcp://*:1\", \"exec\": " + std::string(body) + "}"), check);
    };
    CHECK(ok(exec(R"({"argv": ["/bin/sh"], "cwd": "/"})", true)).services.size() == 1);
    CHECK(only_error(exec(R"({"argv": ["/nonexistent/daemon"]})", true)).message ==
          "cannot run /nonexistent/daemon: No such file or directory");
    CHECK(only_error(exec(R"({"argv": ["/"]})", true)).message == "cannot run /: it is a directory");
    CHECK(only_error(exec(R"({"argv": ["/etc/passwd"]})", true)).message == "cannot run /etc/passwd: it is not executable");
    CHECK(only_error(exec(R"({"argv": ["/bin/sh"], "cwd": "/nonexistent"})", true)).message ==
          "cannot use /nonexistent as the working directory: No such file or directory");
    CHECK(ok(exec(R"({"argv": ["/nonexistent/daemon"], "cwd": "/nonexistent"})", false)).services.size() == 1);

    cfg::Error user = only_error(exec(R"({"argv": ["/bin/sh"], "user": "no-such-user-sb"})", true));
    CHECK(user.pointer == "/services/x/exec/user");
    CHECK(user.message == "unknown user \"no-such-user-sb\"");
    CHECK(only_error(exec(R"({"argv": ["/bin/sh"], "group": "no-such-group-sb"})", true)).message ==
          "unknown group \"no-such-group-sb\"");
    cfg::Config unchecked = ok(exec(R"({"argv": ["/bin/sh"], "user": "no-such-user-sb"})", false));
    CHECK(unchecked.services.at("x").exec()->credentials.user_name == "no-such-user-sb");
    CHECK_FALSE(unchecked.services.at("x").exec()->credentials.uid.has_value());

    CHECK(only_error(exec(R"({"argv": ["/bin/sh"], "user": 4000000})", true)).message ==
          "user 4000000 has no passwd entry, so it has no primary group; set \"group\" too");
    CHECK(ok(exec(R"({"argv": ["/bin/sh"], "user": 4000000, "group": 4000000})", true))
              .services.at("x").exec()->credentials.gid == gid_t{4000000});
    CHECK(only_error(exec(R"({"argv": ["/bin/sh"], "user": 4294967295})", true)).message ==
          "user 4294967295 is out of range 0-4294967294");
    CHECK(only_error(exec(R"({"argv": ["/bin/sh"], "user": ""})", true)).message == "user must not be empty");
    CHECK(only_error(exec(R"({"argv": ["/bin/sh"], "user": true})", true)).message ==
          "expected a user name or number, got boolean");
}

TEST_CASE("credentials are resolved at load time") {
    // root exists on every system the tests run on.
    cfg::Config c = ok(load(with_service("x", R"({"listen": "unix:/run/x.sock", "exec": {"argv": ["/bin/sh"], "user": "root"},
        "peer_uids": ["root", 5], "socket": {"owner": "root", "group": "0"}})"), true));
    const cfg::Credentials& cred = c.services.at("x").exec()->credentials;
    CHECK(cred.user_name == "root");
    CHECK(cred.uid == uid_t{0});
    CHECK(cred.gid == gid_t{0});  // the user's primary group
    CHECK(std::find(cred.supplementary.begin(), cred.supplementary.end(), gid_t{0}) != cred.supplementary.end());
    CHECK(cred.home == "/root");
    CHECK(c.services.at("x").admission.peer_uids == std::vector<uid_t>{0, 5});
    CHECK(c.services.at("x").listen[0].options.owner == uid_t{0});

    cfg::Config by_number = ok(load(with_service("x", R"({"listen": "tcp://*:1", "exec": {"argv": ["/bin/sh"], "user": "0"}})"), true));
    CHECK(by_number.services.at("x").exec()->credentials.user_name == "root");
    CHECK(by_number.services.at("x").exec()->credentials.home == "/root");
}

TEST_CASE("nothing the input does escapes as an exception or a crash") {
    std::string deep(100000, '[');
    deep += std::string(100000, ']');
    CHECK(only_error(load(deep)).message == "expected an object, got array");

    std::string deep_key = "{\"services\": {\"a\": {\"listen\": \"tcp://*:1\", \"builtin\": \"echo\", \"junk\": " +
                           std::string(50000, '[') + std::string(50000, ']') + "}}}";
    CHECK(only_error(load(deep_key)).pointer == "/services/a/junk");

    std::string deep_object;
    for (int i = 0; i < 20000; ++i) deep_object += "{\"a\":";
    deep_object += "1" + std::string(20000, '}');
    CHECK(only_error(load(deep_object)).message == "unknown key \"a\"");

    cfg::Error utf8 = only_error(load("{\"services\": {\"\xff\xfe\": {}}}"));
    CHECK(utf8.message.find("ill-formed UTF-8") != std::string::npos);
    CHECK(utf8.message.find("\\xff") != std::string::npos);  // raw bytes never reach the message

    auto many = load("{\"services\": {\"a\": {\"listen\": [" + [] {
        std::string s;
        for (int i = 0; i < 2000; ++i) s += std::string(i ? "," : "") + "\"tcp://127.0.0.1:0\"";
        return s;
    }() + "], \"builtin\": \"echo\"}}}");
    // At most 1000 are listed, then one line counts the rest.
    REQUIRE(many.errors.size() == 1001);
    CHECK(many.errors.back().message == "1000 more errors not shown (at most 1000 are listed)");
    CHECK_FALSE(many.config.has_value());
}

TEST_CASE("offline: nothing of the host is looked up, everything else is still checked") {
    cfg::LoadOptions offline;
    offline.offline = true;
    auto load_offline = [&](std::string_view body) {
        return cfg::load_text(with_service("x", body), k_name, offline);
    };
    // root exists everywhere: offline, its name is taken as given and not resolved.
    cfg::Config c = ok(load_offline(R"({"listen": "unix:/run/x.sock", "socket": {"owner": "root"},
        "exec": {"argv": ["/nonexistent/daemon"], "user": "root", "group": "no-such-group-sb", "cwd": "/nonexistent"}})"));
    const cfg::Credentials& cred = c.services.at("x").exec()->credentials;
    CHECK(cred.user_name == "root");
    CHECK_FALSE(cred.uid.has_value());
    CHECK_FALSE(cred.gid.has_value());
    CHECK(cred.home.empty());
    CHECK_FALSE(c.services.at("x").listen[0].options.owner.has_value());
    // Numbers need no lookup and are kept.
    CHECK(ok(load_offline(R"({"listen": "tcp://*:1", "exec": {"argv": ["/bin/sh"], "user": 4000000}})"))
              .services.at("x").exec()->credentials.uid == uid_t{4000000});

    // Syntax, types, addresses, conflicts and ranges are still errors.
    CHECK(only_error(cfg::load_text("{\"services\": {", k_name, offline)).line == 1);
    CHECK(only_error(load_offline(R"({"listen": "tcp://1.2.3:7", "builtin": "echo"})")).pointer == "/services/x/listen");
    CHECK(only_error(load_offline(R"({"listen": "tcp://*:1", "builtin": "echo", "max_connections": -1})"))
              .pointer == "/services/x/max_connections");
    CHECK(only_error(load_offline(R"({"listen": ["tcp://*:1", "tcp://127.0.0.1:1"], "builtin": "echo"})"))
              .message.find("conflicts with") != std::string::npos);
    CHECK(only_error(load_offline(R"({"listen": "tcp://*:1", "exec": {"argv": ["relative"]}})")).message ==
          "argv[0] must be an absolute path, got \"relative\"");
}

TEST_CASE("offline: banner files are not read") {
    TempDir dir;
    dir.write("hello.txt", "hello\r\n");
    std::string main = dir.write("main.json", with_service("x", R"({"listen": "tcp://*:1", "builtin": "echo",
        "banner": {"file": "hello.txt"}})"));
    cfg::LoadOptions offline;
    offline.offline = true;
    cfg::Config c = ok(cfg::load_file(main, offline));
    CHECK(c.services.at("x").admission.banner.file == dir.path("hello.txt"));
    CHECK(c.services.at("x").admission.banner.text.empty());
    CHECK(ok(cfg::load_file(main)).services.at("x").admission.banner.text == "hello\r\n");
}

TEST_CASE("metrics.listen: a tcp address, conflicting with no service") {
    CHECK_FALSE(ok(load("{}")).metrics.listen.has_value());
    cfg::Config c = ok(load(R"({"metrics": {"listen": "tcp://127.0.0.1:9120"}})"));
    REQUIRE(c.metrics.listen.has_value());
    CHECK(c.metrics.listen->to_string() == "tcp://127.0.0.1:9120");
    CHECK(ok(load(R"({"metrics": {"listen": "tcp://*:9120"}})")).metrics.listen->any);

    cfg::Error udp = only_error(load(R"({"metrics": {"listen": "udp://127.0.0.1:9120"}})"));
    CHECK(udp.pointer == "/metrics/listen");
    CHECK(udp.message == "the metrics address must be tcp://HOST:PORT, got \"udp://127.0.0.1:9120\"");
    CHECK(only_error(load(R"({"metrics": {"listen": "tcp://localhost:9120"}})")).pointer == "/metrics/listen");
    CHECK(only_error(load(R"({"metrics": {"lisen": "tcp://127.0.0.1:9120"}})")).message.find("did you mean \"listen\"") !=
          std::string::npos);

    cfg::Error clash = only_error(load(R"({"metrics": {"listen": "tcp://*:9120"},
        "services": {"web": {"listen": "tcp://127.0.0.1:9120", "builtin": "echo"}}})"));
    CHECK(clash.pointer == "/services/web/listen");
    CHECK(clash.message.starts_with(
        "tcp://127.0.0.1:9120 of service \"web\" conflicts with tcp://*:9120 of the metrics listener ("));
    CHECK(ok(load(R"({"metrics": {"listen": "tcp://127.0.0.1:9120"},
        "services": {"web": {"listen": "udp://127.0.0.1:9120", "builtin": "echo"}}})")).services.size() == 1);
}

TEST_CASE("two services may not share a tcpmux name, whatever its case") {
    auto r = load(R"({"services": {
        "a": {"tcpmux": "dup", "exec": {"argv": ["/bin/cat"]}},
        "b": {"tcpmux": "DuP", "exec": {"argv": ["/bin/cat"]}},
        "c": {"tcpmux": "other", "exec": {"argv": ["/bin/cat"]}}}})");
    CHECK(has_error(r, "tcpmux name \"DuP\" is already service \"a\"'s"));
    CHECK(r.errors.size() == 1);
}
