// process/child: watching, signalling and terminating children on a real loop.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>

#include "process/child.hpp"
#include "process/spawn.hpp"
#include "process_support.hpp"
#include "uv/loop.hpp"
#include "uv/timer.hpp"

using namespace sb;
using namespace std::chrono_literals;
using sb::test::Pipe;
using Clock = std::chrono::steady_clock;

namespace {

// One child on one loop, with a watchdog so a broken test cannot hang.
struct Fixture {
    uv::Loop loop;
    process::Spawner spawner;
    process::Spawned child;
    process::ChildWatch watch;
    uv::Timer watchdog;
    std::optional<process::ExitStatus> status;
    Clock::time_point exited_at;
    bool closed = false;
    Pipe out;

    // Starts argv with stdout on `out` and watches it; on exit, closes the watch.
    void start(std::vector<std::string> argv, bool new_session = false) {
        REQUIRE(loop.ok());
        config::Exec attributes;
        attributes.new_session = new_session;
        process::SpawnRequest request;
        request.argv = std::move(argv);
        request.fds = {{out.write, 1}};
        request.attributes = &attributes;
        std::string error;
        REQUIRE(spawner.spawn(request, child, error) == 0);
        out.close_write();
        REQUIRE(watch.start(loop.get(), child, [this](const process::ExitStatus& s) {
            status = s;
            exited_at = Clock::now();
            watch.close([this] { closed = true; });
        }) == 0);
        REQUIRE(watchdog.init(loop.get()) == 0);
        watchdog.on_fire([this] {
            FAIL_CHECK("the child did not exit in time");
            watch.terminate(0ms);
        });
        watchdog.start(10s);
        watchdog.unref();
    }

    // Reads the child's stdout up to and including the first newline (blocking).
    std::string read_line() {
        std::string line;
        char c = 0;
        while (::read(out.read, &c, 1) == 1) {
            line += c;
            if (c == '\n') break;
        }
        return line;
    }

    void finish() {
        loop.run();
        CHECK(closed);
        watchdog.close();
        CHECK(loop.close() == 0);
    }
};

bool gone(pid_t pid) {
    if (kill(pid, 0) != 0) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto close_paren = text.rfind(')');
    return close_paren == std::string::npos || text.substr(close_paren + 2, 1) == "Z";
}

}  // namespace

TEST_CASE("an exit code is reported through the pidfd watch") {
    Fixture f;
    f.start({"/bin/sh", "-c", "exit 3"});
    CHECK(f.watch.running());
    CHECK(f.watch.pid() == f.child.pid);
    f.finish();
    REQUIRE(f.status);
    CHECK(f.status->kind == process::ExitStatus::Kind::exited);
    CHECK(f.status->code == 3);
    CHECK(f.status->describe() == "exit 3");
    CHECK(f.status->duration < 5s);
    CHECK(waitpid(f.child.pid, nullptr, WNOHANG) == -1);  // already reaped by the watch
}

TEST_CASE("a child killed by a signal is reported as such; signalling a reaped child is ESRCH") {
    Fixture f;
    f.start({"/bin/sh", "-c", "echo ready; exec sleep 30"});
    CHECK(f.read_line() == "ready\n");
    CHECK(f.watch.signal(SIGUSR1) == 0);
    f.loop.run();
    REQUIRE(f.status);
    CHECK(f.status->kind == process::ExitStatus::Kind::killed);
    CHECK(f.status->signal == SIGUSR1);
    CHECK(f.status->describe() == "signal SIGUSR1");
    CHECK_FALSE(f.watch.running());
    CHECK(f.watch.signal(SIGTERM) == -ESRCH);
    f.finish();
}

TEST_CASE("terminate(grace) kills a child that ignores SIGTERM once the grace is over") {
    Fixture f;
    f.start({"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30"});
    REQUIRE(f.read_line() == "ready\n");  // the trap is in place
    auto asked = Clock::now();
    f.watch.terminate(200ms);
    f.watch.terminate(10s);  // a second call does not postpone the kill
    f.finish();
    REQUIRE(f.status);
    CHECK(f.status->kind == process::ExitStatus::Kind::killed);
    CHECK(f.status->signal == SIGKILL);
    auto took = f.exited_at - asked;
    CHECK(took >= 190ms);
    CHECK(took < 3s);
}

TEST_CASE("terminate(grace) ends a well-behaved child with SIGTERM at once, and its process group with it") {
    Fixture f;
    f.start({"/bin/sh", "-c", "sleep 30 & echo $!; wait"}, true);
    std::string line = f.read_line();
    REQUIRE(!line.empty());
    pid_t grandchild = std::stoi(line);
    auto asked = Clock::now();
    f.watch.terminate(5s);
    f.finish();
    REQUIRE(f.status);
    CHECK(f.status->kind == process::ExitStatus::Kind::killed);
    CHECK(f.status->signal == SIGTERM);
    CHECK(f.exited_at - asked < 2s);
    bool grandchild_gone = false;
    for (int i = 0; i < 100 && !grandchild_gone; ++i) {
        grandchild_gone = gone(grandchild);
        if (!grandchild_gone) usleep(10000);
    }
    CHECK(grandchild_gone);
}

TEST_CASE("terminate(0) kills at once") {
    Fixture f;
    f.start({"/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30"});
    REQUIRE(f.read_line() == "ready\n");
    f.watch.terminate(0ms);
    f.finish();
    REQUIRE(f.status);
    CHECK(f.status->signal == SIGKILL);
}

TEST_CASE("closing a watch while its child runs releases the handles and the pidfd") {
    uv::Loop loop;
    process::Spawner spawner;
    process::SpawnRequest request;
    request.argv = {"/bin/sleep", "30"};
    process::Spawned child;
    std::string error;
    REQUIRE(spawner.spawn(request, child, error) == 0);
    process::ChildWatch watch;
    bool exited = false;
    REQUIRE(watch.start(loop.get(), child, [&](const process::ExitStatus&) { exited = true; }) == 0);
    watch.terminate(5s);  // a timer to close, too
    int closes = 0;
    watch.close([&] { ++closes; });
    watch.close([&] { closes += 10; });  // idempotent: the first callback stands
    loop.run();
    CHECK(closes == 1);
    CHECK_FALSE(exited);
    CHECK(fcntl(child.pidfd, F_GETFD) == -1);  // closed
    CHECK(loop.close() == 0);
    int status = 0;
    kill(child.pid, SIGKILL);
    CHECK(waitpid(child.pid, &status, 0) == child.pid);
}

TEST_CASE("a watch that never started closes cleanly") {
    uv::Loop loop;
    process::ChildWatch watch;
    bool closed = false;
    watch.close([&] { closed = true; });
    CHECK(closed);
    CHECK(loop.close() == 0);
}

TEST_CASE("kill_and_reap ends and reaps a child at once, for an owner that cannot watch it") {
    uv::Loop loop;
    process::Spawner spawner;
    process::SpawnRequest request;
    request.argv = {"/bin/sh", "-c", "trap '' TERM; exec sleep 30"};
    process::Spawned child;
    std::string error;
    REQUIRE(spawner.spawn(request, child, error) == 0);
    process::ChildWatch watch;
    bool exited = false;
    REQUIRE(watch.start(loop.get(), child, [&](const process::ExitStatus&) { exited = true; }) == 0);
    process::ExitStatus status = watch.kill_and_reap();
    CHECK(status.kind == process::ExitStatus::Kind::killed);
    CHECK(status.signal == SIGKILL);
    CHECK_FALSE(watch.running());
    CHECK(waitpid(child.pid, nullptr, WNOHANG) == -1);  // no zombie left for anyone
    CHECK(watch.kill_and_reap().kind == process::ExitStatus::Kind::lost);  // nothing left to reap
    bool closed = false;
    watch.close([&] { closed = true; });
    loop.run();
    CHECK(closed);
    CHECK_FALSE(exited);  // on_exit is not called as well
    CHECK(loop.close() == 0);
}
