// Server::reload on a real loop: the files are read off the loop, callers
// that ask while a load runs share the next load, every failure reaches
// the observers whatever triggered it, and a shutdown during a load
// applies nothing and still lets the loop close.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"
#include "server/server.hpp"
#include "switchboard/config/load.hpp"
#include "uv/loop.hpp"

using namespace sb;
using sb::test::TempDir;
using sb::test::write_file;

namespace {

// A valid main file; `grace` is its drain_grace in seconds, so versions differ.
std::string config_text(int grace, const std::string& services = "{}") {
    return R"({"control": {"socket": ""}, "log": {"level": "error"}, "drain_grace": ")" + std::to_string(grace) +
           R"(s", "services": )" + services + "}";
}

// Counts what the server tells its observers, and keeps their order.
struct Recorder final : server::ServerObserver {
    int applied = 0;
    int failed = 0;
    std::vector<std::string> events;
    void on_applied(const config::Config&, const server::ApplyReport&) override {
        ++applied;
        events.emplace_back("applied");
    }
    void on_reload_failed(const server::ApplyReport&) override {
        ++failed;
        events.emplace_back("failed");
    }
    void on_dump_requested() override {}
    void on_reload_started(std::string_view trigger) override { events.push_back("started " + std::string(trigger)); }
    void on_stopping() override { events.emplace_back("stopping"); }
    void on_closing() override { events.emplace_back("closing"); }
};

template <typename F>
bool run_until(uv::Loop& loop, F&& done, int ms = 5000) {
    for (int i = 0; i < ms; ++i) {
        if (done()) return true;
        loop.run(UV_RUN_NOWAIT);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return done();
}

struct Fixture {
    TempDir dir{"sb-reload"};
    std::string main = dir.path + "/switchboard.json";
    uv::Loop loop;
    server::Server server{loop.get()};
    Recorder recorder;

    explicit Fixture(const std::string& text = config_text(1)) {
        write_file(main, text);
        auto loaded = config::load_file(main);
        REQUIRE_MESSAGE(loaded.config.has_value(), (loaded.errors.empty() ? "" : loaded.errors[0].to_string()));
        REQUIRE(server.start(main) == 0);
        REQUIRE(server.apply(*loaded.config).ok());
        server.add_observer(&recorder);
    }

    void finish() {
        if (!server.stopping()) server.shutdown(true);
        loop.run();
        CHECK(loop.close() == 0);
    }
};

// The outcome a ReloadDone callback delivered, if it ran.
struct Outcome {
    std::optional<server::ApplyReport> report;
    std::uint64_t generation = 0;
    std::chrono::seconds grace{};
};

server::Server::ReloadDone record(Outcome& out, server::Server& server) {
    return [&out, &server](const server::ApplyReport& report) {
        out.report = report;
        out.generation = server.generation();
        out.grace = std::chrono::duration_cast<std::chrono::seconds>(server.config().drain_grace);
    };
}

}  // namespace

TEST_CASE("reload returns at once and answers once the load has been applied") {
    Fixture f;
    Outcome out;
    f.server.reload("test", record(out, f.server));
    CHECK_FALSE(out.report.has_value());  // never answered from inside reload()
    CHECK(f.server.reload_in_flight());
    REQUIRE(run_until(f.loop, [&] { return out.report.has_value(); }));
    CHECK(out.report->ok());
    CHECK(out.generation == 2);
    CHECK_FALSE(f.server.reload_in_flight());
    CHECK(f.recorder.applied == 1);
    CHECK(out.report->milliseconds >= out.report->load_milliseconds);
    CHECK(out.report->load_milliseconds > 0);
    CHECK(out.report->milliseconds == doctest::Approx(out.report->load_milliseconds + out.report->apply_milliseconds));
    f.finish();
}

TEST_CASE("observers hear that a reload begins before its files are read, and how each load ended") {
    Fixture f;
    Outcome first, second;
    f.server.reload("SIGHUP", record(first, f.server));
    // Told from inside reload(), before the threadpool could read anything.
    CHECK(f.recorder.events == std::vector<std::string>{"started SIGHUP"});
    f.server.reload("ctl", record(second, f.server));  // joins the next load: not begun yet
    CHECK(f.recorder.events.size() == 1);
    REQUIRE(run_until(f.loop, [&] { return second.report.has_value(); }));
    CHECK(f.recorder.events == std::vector<std::string>{"started SIGHUP", "applied", "started ctl", "applied"});
    write_file(f.main, "{ not json");
    Outcome failed;
    f.server.reload("watch", record(failed, f.server));
    REQUIRE(run_until(f.loop, [&] { return failed.report.has_value(); }));
    CHECK(f.recorder.events.at(4) == "started watch");
    CHECK(f.recorder.events.at(5) == "failed");
    f.finish();
}

TEST_CASE("observers hear that stopping begins once, when shutdown or drain is first asked for") {
    for (bool use_drain : {false, true}) {
        CAPTURE(use_drain);
        Fixture f;
        if (use_drain) {
            f.server.drain();
            f.server.drain();
        } else {
            f.server.shutdown(false);
        }
        f.server.shutdown(true);
        f.loop.run();
        CHECK(f.loop.close() == 0);
        CHECK(f.recorder.events == std::vector<std::string>{"stopping", "closing"});
    }
}

TEST_CASE("requests made while a load runs share one more load, which sees what they asked for") {
    Fixture f;
    Outcome first, second, third;
    f.server.reload("ctl", record(first, f.server));
    // Written after the first request: the first load may or may not see
    // it, but the requests that follow must.
    write_file(f.main, config_text(7));
    f.server.reload("SIGHUP", record(second, f.server));
    f.server.reload("ctl", record(third, f.server));
    f.server.reload("watch");  // nobody waits for this one, yet it joins too
    REQUIRE(run_until(f.loop, [&] { return third.report.has_value(); }));
    REQUIRE(first.report.has_value());
    REQUIRE(second.report.has_value());
    CHECK(first.generation == 2);
    CHECK(second.generation == 3);
    CHECK(third.generation == 3);
    CHECK(second.grace == std::chrono::seconds(7));
    CHECK(f.server.generation() == 3);  // two loads for four requests
    CHECK(f.recorder.applied == 2);
    f.finish();
}

TEST_CASE("a caller that asks again from its answer gets a fresh load") {
    Fixture f;
    Outcome again;
    bool asked = false;
    f.server.reload("ctl", [&](const server::ApplyReport&) {
        asked = true;
        f.server.reload("ctl", record(again, f.server));
    });
    REQUIRE(run_until(f.loop, [&] { return again.report.has_value(); }));
    CHECK(asked);
    CHECK(again.generation == 3);
    f.finish();
}

TEST_CASE("every failed reload reaches the observers, whatever asked for it") {
    Fixture f;
    // Invalid files: the load fails.
    write_file(f.main, "{ not json");
    f.server.reload("SIGHUP");
    REQUIRE(run_until(f.loop, [&] { return f.recorder.failed == 1; }));
    Outcome out;
    f.server.reload("watch", record(out, f.server));
    REQUIRE(run_until(f.loop, [&] { return out.report.has_value(); }));
    CHECK(f.recorder.failed == 2);
    CHECK_FALSE(out.report->ok());
    CHECK(out.report->errors.at(0).find("switchboard.json") != std::string::npos);

    // Valid files, but a listener that cannot be bound: the apply fails.
    int taken = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(taken >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(taken, 1) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(taken, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    std::string port = std::to_string(ntohs(addr.sin_port));
    write_file(f.main, config_text(1, R"({"e": {"listen": ["tcp://127.0.0.1:)" + port + R"("], "builtin": "echo"}})"));
    Outcome bind_failure;
    f.server.reload("SIGHUP", record(bind_failure, f.server));
    REQUIRE(run_until(f.loop, [&] { return bind_failure.report.has_value(); }));
    ::close(taken);
    CHECK(f.recorder.failed == 3);
    CHECK(f.recorder.applied == 0);
    CHECK(bind_failure.generation == 1);
    REQUIRE_FALSE(bind_failure.report->errors.empty());
    CHECK(bind_failure.report->errors[0].find("service e") != std::string::npos);
    f.finish();
}

TEST_CASE("a log file that cannot be opened fails the reload and changes nothing") {
    Fixture f;
    write_file(f.main, R"({"control": {"socket": ""}, "drain_grace": "9s",
                           "log": {"level": "error", "file": ")" + f.dir.path + R"(/no/such/dir/log"}, "services": {}})");
    Outcome out;
    f.server.reload("ctl", record(out, f.server));
    REQUIRE(run_until(f.loop, [&] { return out.report.has_value(); }));
    CHECK_FALSE(out.report->ok());
    REQUIRE(out.report->errors.size() == 1);
    CHECK(out.report->errors[0].find("cannot open log file") != std::string::npos);
    CHECK(out.generation == 1);
    CHECK(out.grace == std::chrono::seconds(1));
    CHECK(f.recorder.failed == 1);
    f.finish();
}

TEST_CASE("a shutdown while a load is in flight applies nothing, answers, and the loop still closes") {
    Fixture f;
    Outcome during, after;
    f.server.reload("ctl", record(during, f.server));
    f.server.reload("SIGHUP");  // a second load is due too: it must not start
    f.server.shutdown(true);
    f.server.reload("ctl", record(after, f.server));
    REQUIRE(after.report.has_value());  // refused at once
    CHECK(after.report->errors.at(0).find("shutting down") != std::string::npos);
    f.loop.run();  // returns only once the load has come back
    REQUIRE(during.report.has_value());
    CHECK(during.report->errors.at(0).find("shutting down") != std::string::npos);
    CHECK(during.generation == 1);
    CHECK(f.recorder.applied == 0);
    CHECK_FALSE(f.server.reload_in_flight());
    CHECK(f.loop.close() == 0);
}
