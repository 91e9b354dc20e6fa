// io/splice_bridge: two socket pairs joined by a SpliceBridge, the test
// playing both the client and the upstream from threads with blocking
// sockets while the loop runs the bridge.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <functional>
#include <random>
#include <string>
#include <thread>

#include "io/pipe_pool.hpp"
#include "io/splice_bridge.hpp"
#include "net_support.hpp"
#include "uv/loop.hpp"
#include "uv/timer.hpp"

using namespace sb;
using namespace std::chrono_literals;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(gen());
    return s;
}

void send_all_then_shut(int fd, const std::string& data) {
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::send(fd, data.data() + off, std::min<std::size_t>(data.size() - off, 100000), MSG_NOSIGNAL);
        if (n <= 0) return;
        off += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);
}

std::string read_to_eof(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

ssize_t refuse_splice(int, int, std::size_t, unsigned) {
    errno = EINVAL;
    return -1;
}

struct Run {
    std::string from_a_got;  // what the upstream's test end read
    std::string from_b_got;  // what the client's test end read
    int finished_err = 1;
    std::uint64_t bytes_a = 0;
    std::uint64_t bytes_b = 0;
    int max_pipes = 0;
};

using FdGate = std::function<bool(int delta)>;

// The bridge's owner in these tests: each report forwarded to a function.
struct TestOwner final : io::SpliceBridge::Owner {
    FdGate fds_changed;
    std::function<void(int)> finished;
    std::function<void()> closed;
    bool bridge_fds_changed(int delta) override { return fds_changed ? fds_changed(delta) : true; }
    void bridge_finished(int err) override { finished(err); }
    void bridge_closed() override { closed(); }
};

// Sends `to_b` from the client end and `to_a` from the upstream end, each
// followed by a half-close, through a bridge with `setup`; `gate` answers
// the bridge's fd questions (none: always yes).
Run bridge_run(const std::string& to_b, const std::string& to_a, io::SpliceBridge::Setup setup, FdGate gate = {}) {
    signal(SIGPIPE, SIG_IGN);
    uv::Loop loop;
    REQUIRE(loop.ok());
    // [0] for the bridge (non-blocking), [1] for the test (blocking).
    auto client = test::loopback_tcp_pair();
    auto upstream = test::loopback_tcp_pair();
    Run run;
    io::SpliceBridge bridge;
    uv::Timer watchdog;
    REQUIRE(watchdog.init(loop.get()) == 0);
    bool closed = false;
    TestOwner owner;
    owner.fds_changed = std::move(gate);
    owner.closed = [&] { closed = true; };
    auto close_all = [&] {
        watchdog.close();
        bridge.close();
    };
    watchdog.on_fire([&] {
        FAIL("the bridge did not finish within 20s");
        close_all();
    });
    watchdog.start(20s);
    owner.finished = [&](int err) {
        run.finished_err = err;
        run.bytes_a = bridge.bytes_from(io::SpliceBridge::a);
        run.bytes_b = bridge.bytes_from(io::SpliceBridge::b);
        close_all();
    };
    REQUIRE(bridge.start(loop.get(), Fd(client[0]), Fd(upstream[0]), std::move(setup), owner) == 0);
    uv::Timer sampler;
    REQUIRE(sampler.init(loop.get()) == 0);
    sampler.on_fire([&] { run.max_pipes = std::max(run.max_pipes, bridge.pipes_held()); });
    sampler.start(1ms, 1ms);
    std::thread t1([&] { send_all_then_shut(client[1], to_b); });
    std::thread t2([&] { send_all_then_shut(upstream[1], to_a); });
    std::thread t3([&] { run.from_a_got = read_to_eof(upstream[1]); });
    std::thread t4([&] { run.from_b_got = read_to_eof(client[1]); });
    while (!closed) loop.run(UV_RUN_ONCE);  // the watchdog bounds it
    sampler.close();
    t1.join();
    t2.join();
    t3.join();
    t4.join();
    ::close(client[1]);
    ::close(upstream[1]);
    CHECK(loop.close() == 0);  // every handle closed
    return run;
}

}  // namespace

TEST_CASE("bytes cross both ways through pooled pipes, with half-close and prefixes") {
    io::PipePool pool;
    std::string up = random_bytes(3 << 20, 1);
    std::string down = random_bytes(5 << 20, 2);
    io::SpliceBridge::Setup setup;
    setup.pool = &pool;
    setup.prefix_to_b = "PROXY UNKNOWN\r\n";
    setup.prefix_to_a = "hello\r\n";
    Run run = bridge_run(up, down, std::move(setup));
    CHECK(run.finished_err == 0);
    CHECK(run.from_a_got.size() == up.size() + 15);
    CHECK(run.from_a_got == "PROXY UNKNOWN\r\n" + up);
    CHECK(run.from_b_got == "hello\r\n" + down);
    CHECK(run.bytes_a == up.size());
    CHECK(run.bytes_b == down.size());
    CHECK(pool.created() >= 1);
    CHECK(pool.created() <= 2);  // at most one pipe per direction, reused
    CHECK(pool.idle() == pool.created());  // every pipe came back
    CHECK(run.max_pipes <= 2);
}

TEST_CASE("where the kernel refuses to splice, a direction copies instead") {
    io::PipePool pool;
    std::string up = random_bytes(1 << 20, 3);
    std::string down = random_bytes(2 << 20, 4);
    io::SpliceBridge::Setup setup;
    setup.pool = &pool;
    setup.splice = refuse_splice;
    Run run = bridge_run(up, down, std::move(setup));
    CHECK(run.finished_err == 0);
    CHECK(run.from_a_got == up);
    CHECK(run.from_b_got == down);
    CHECK(run.bytes_a == up.size());
}

TEST_CASE("without room in the fd budget for a pipe, a direction copies and the budget sees no pipe") {
    io::PipePool pool;
    std::string up = random_bytes(1 << 20, 5);
    std::string down = random_bytes(1 << 20, 6);
    int asked = 0;
    int balance = 0;
    io::SpliceBridge::Setup setup;
    setup.pool = &pool;
    FdGate gate = [&](int delta) {
        ++asked;
        if (delta > 0) return false;
        balance += delta;
        return true;
    };
    Run run = bridge_run(up, down, std::move(setup), gate);
    CHECK(run.finished_err == 0);
    CHECK(run.from_a_got == up);
    CHECK(run.from_b_got == down);
    CHECK(asked > 0);
    CHECK(balance == 0);
    CHECK(pool.created() == 0);
}

TEST_CASE("the fd gate is told of every pipe taken and every pipe given back") {
    io::PipePool pool;
    int balance = 0;
    int peak = 0;
    io::SpliceBridge::Setup setup;
    setup.pool = &pool;
    FdGate gate = [&](int delta) {
        balance += delta;
        peak = std::max(peak, balance);
        return true;
    };
    Run run = bridge_run(random_bytes(1 << 20, 7), random_bytes(1 << 20, 8), std::move(setup), gate);
    CHECK(run.finished_err == 0);
    CHECK(balance == 0);
    CHECK(peak >= 2);
    CHECK(peak <= 4);
}
