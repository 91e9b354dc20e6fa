// The config watcher: which directory entries matter, and on a real loop,
// an editor's rename-replace and a burst of writes each become one reload.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "temp_dir.hpp"
#include "server/config_watcher.hpp"
#include "switchboard/config/load.hpp"
#include "uv/loop.hpp"

using namespace sb;
using sb::test::TempDir;
using sb::test::write_file;

namespace {

// Like an editor: write a new file beside it, then rename it over.
void replace_file(const std::string& path, const std::string& text) {
    write_file(path + ".tmp", text);
    REQUIRE(std::rename((path + ".tmp").c_str(), path.c_str()) == 0);
}

// A valid main file; `n` picks its drain_grace, so each version differs.
std::string config_text(int n) {
    return R"({"watch": true, "control": {"socket": ""}, "log": {"level": "error"},
               "include": ["services.d/*.json"], "services": {}, "drain_grace": ")" +
           std::to_string(n + 1) + "s\"}";
}

// Runs the loop until `done` or about `ms` milliseconds have passed.
template <typename F>
bool run_until(uv::Loop& loop, F&& done, int ms = 3000) {
    for (int i = 0; i < ms / 5; ++i) {
        if (done()) return true;
        loop.run(UV_RUN_NOWAIT);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
}

// A server running `config` (read from `main`) with a watcher following it.
// Shut the server down and run the loop before it goes.
struct Watched {
    server::Server server;
    server::ConfigWatcher watcher{server};

    Watched(uv::Loop& loop, const std::string& main, const config::Config& config) : server(loop.get()) {
        REQUIRE(server.start(main) == 0);
        REQUIRE(server.apply(config).ok());
        server.add_observer(&watcher);
        REQUIRE(watcher.start(server.config()) == 0);
    }
};

}  // namespace

TEST_CASE("which names in a watched directory can change the configuration") {
    config::Config c;
    c.files = {"/etc/sb/main.conf", "/etc/sb/services.d/a.json"};
    c.log.file = "/etc/sb/log.json";
    auto f = server::ConfigChangeFilter::of(c);
    CHECK(f.relevant("/etc/sb", "main.conf"));            // a file it was read from, whatever its name
    CHECK(f.relevant("/etc/sb/services.d", "a.json"));
    CHECK(f.relevant("/etc/sb/services.d", "new.json"));  // a new file an include may match
    CHECK(f.relevant("/etc/sb", nullptr));                // the kernel did not say
    CHECK_FALSE(f.relevant("/etc/sb", "log.json"));       // never the log: that would loop
    CHECK_FALSE(f.relevant("/etc/sb", ".main.conf.swp"));
    CHECK_FALSE(f.relevant("/etc/sb", "main.conf~"));
    CHECK_FALSE(f.relevant("/etc/sb", "4913"));
    CHECK_FALSE(f.relevant("/etc/sb", "main.conf.tmp"));
    CHECK_FALSE(f.relevant("/etc/sb", "control.sock"));
    CHECK_FALSE(f.relevant("/etc/sb", "conf.d"));

    // An include pointing into a directory that does not exist yet: the
    // directories on the way to it matter when they appear.
    c.awaited_dirs = {"/etc/sb/conf.d/extra"};
    auto g = server::ConfigChangeFilter::of(c);
    CHECK(g.relevant("/etc/sb", "conf.d"));
    CHECK(g.relevant("/etc/sb/conf.d", "extra"));
    CHECK_FALSE(g.relevant("/etc/sb", "conf"));
    CHECK_FALSE(g.relevant("/etc/sb/conf.d", "extras"));
}

TEST_CASE("an include directory created after the load is watched once it appears") {
    TempDir dir{"sb-watch-late"};
    std::string main = dir.path + "/switchboard.json";
    write_file(main, config_text(0));  // includes services.d/*.json, which does not exist yet
    auto loaded = config::load_file(main);
    REQUIRE(loaded.config.has_value());

    uv::Loop loop;
    {
        Watched w(loop, main, *loaded.config);
        server::Server& server = w.server;
        server::ConfigWatcher& watcher = w.watcher;

        REQUIRE(::mkdir((dir.path + "/services.d").c_str(), 0755) == 0);
        CHECK(run_until(loop, [&] { return server.generation() == 2; }));
        CHECK(watcher.watched() == 2);  // the main file's directory and now services.d

        write_file(dir.path + "/services.d/echo.json",
                   R"({"services": {"late": {"listen": "unix:)" + dir.path + R"(/late.sock", "builtin": "echo"}}})");
        CHECK(run_until(loop, [&] { return server.generation() == 3; }));
        CHECK(server.config().services.count("late") == 1);

        server.shutdown(true);
        loop.run();
    }
    CHECK(loop.close() == 0);
}

TEST_CASE("a rename-replace, a new included file and a burst each make one reload") {
    TempDir dir{"sb-watch"};
    std::string main = dir.path + "/switchboard.json";
    REQUIRE(::mkdir((dir.path + "/services.d").c_str(), 0755) == 0);
    write_file(main, config_text(0));
    auto loaded = config::load_file(main);
    REQUIRE_MESSAGE(loaded.config.has_value(), (loaded.errors.empty() ? "" : loaded.errors[0].to_string()));
    REQUIRE(loaded.config->watch);

    uv::Loop loop;
    {
        Watched w(loop, main, *loaded.config);
        server::Server& server = w.server;
        server::ConfigWatcher& watcher = w.watcher;
        CHECK(watcher.watched() == 2);  // the main file's directory and services.d

        replace_file(main, config_text(1));
        CHECK(run_until(loop, [&] { return server.generation() == 2; }));
        CHECK(server.config().drain_grace == std::chrono::seconds(2));

        write_file(dir.path + "/services.d/echo.json", R"({"services": {}})");
        CHECK(run_until(loop, [&] { return server.generation() == 3; }));

        // Ten writes, closer together than the quiet time: one reload.
        for (int i = 0; i < 10; ++i) {
            write_file(main, config_text(i));
            run_until(loop, [] { return false; }, 20);
        }
        CHECK(run_until(loop, [&] { return server.generation() == 4; }));
        run_until(loop, [] { return false; }, 600);
        CHECK(server.generation() == 4);
        CHECK(server.config().drain_grace == std::chrono::seconds(10));

        // With watch off, changes are ignored.
        replace_file(main, R"({"watch": false, "control": {"socket": ""}, "log": {"level": "error"}, "services": {}})");
        CHECK(run_until(loop, [&] { return server.generation() == 5; }));
        CHECK(watcher.watched() == 0);
        write_file(main, config_text(0));
        run_until(loop, [] { return false; }, 500);
        CHECK(server.generation() == 5);

        server.shutdown(true);
        loop.run();
    }
    CHECK(loop.close() == 0);
}
