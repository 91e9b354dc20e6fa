// io/splice_pump: a real child (cat and friends) behind a SplicePump, the
// test playing the client on the other end of a socket.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "io/line_splitter.hpp"
#include "io/pipe.hpp"
#include "io/splice_pump.hpp"
#include "net_support.hpp"
#include "process/child.hpp"
#include "process/spawn.hpp"
#include "uv/loop.hpp"
#include "uv/poll.hpp"
#include "uv/timer.hpp"

using namespace sb;
using namespace std::chrono_literals;
using Way = io::SplicePump::Way;

namespace {

constexpr std::size_t k_mib = 1024 * 1024;

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(gen());
    return s;
}

enum class Transport { unix_stream, tcp };

// Two connected non-blocking stream sockets: [0] for the pump, [1] for the test.
std::array<int, 2> connected_pair(Transport transport) {
    if (transport == Transport::unix_stream) {
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
        return {sv[0], sv[1]};
    }
    std::array<int, 2> fds = test::loopback_tcp_pair();
    REQUIRE(fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
    return fds;
}

// One connection: a child behind a pump, its stderr through a LineSplitter,
// and the test's end of the client socket driven from the same loop.
struct Connection {
    uv::Loop loop;
    process::Spawner spawner;
    process::ChildWatch child;
    io::SplicePump pump;
    io::LineSplitter stderr_lines;
    std::array<char, 1024> scratch{};
    uv::Poll peer_poll;
    uv::Timer watchdog;
    uv::Timer ticker;
    int peer = -1;

    // The client's behaviour.
    std::string to_send;
    std::size_t sent = 0;
    bool sending = true;
    bool shutdown_after_send = true;
    bool reading = true;
    // What happened.
    std::string received;
    bool peer_eof = false;
    bool finished = false;
    int finished_reports = 0;
    std::optional<process::ExitStatus> exit;
    std::vector<std::string> errors;
    bool stderr_ended = false;
    bool all_closed = false;
    std::function<void()> after_peer_event;

    void start(std::vector<std::string> argv, Transport transport = Transport::unix_stream,
               io::SplicePump::SpliceCall splice_call = nullptr) {
        signal(SIGPIPE, SIG_IGN);  // as the server does
        REQUIRE(loop.ok());
        auto sockets = connected_pair(transport);
        peer = sockets[1];
        io::ChildPipe in;
        io::ChildPipe out;
        io::ChildPipe err;
        REQUIRE(io::open_child_pipe(io::PipeFlow::to_child, in) == 0);
        REQUIRE(io::open_child_pipe(io::PipeFlow::from_child, out) == 0);
        REQUIRE(io::open_child_pipe(io::PipeFlow::from_child, err) == 0);
        CHECK((fcntl(in.child.get(), F_GETFL) & O_NONBLOCK) == 0);
        CHECK((fcntl(in.server.get(), F_GETFL) & O_NONBLOCK) != 0);

        process::SpawnRequest request;
        request.argv = std::move(argv);
        request.fds = {{in.child.get(), 0}, {out.child.get(), 1}, {err.child.get(), 2}};
        process::Spawned spawned;
        std::string error;
        REQUIRE(spawner.spawn(request, spawned, error) == 0);
        in.child.reset();
        out.child.reset();
        err.child.reset();

        if (splice_call != nullptr) pump.set_splice_call(splice_call);
        REQUIRE(pump.start(loop.get(), sockets[0], in.server.release(), out.server.release(), [this] {
            finished = true;
            ++finished_reports;
            maybe_done();
        }) == 0);
        REQUIRE(child.start(loop.get(), spawned, [this](const process::ExitStatus& s) {
            exit = s;
            maybe_done();
        }) == 0);
        REQUIRE(stderr_lines.start(
                    loop.get(), err.server.release(), scratch,
                    [this](std::string_view line, bool) { errors.emplace_back(line); },
                    [this](int) {
                        stderr_ended = true;
                        maybe_done();
                    }) == 0);
        REQUIRE(peer_poll.init(loop.get(), peer) == 0);
        peer_poll.on_event([this](int, int events) { on_peer(events); });
        update_peer();
        REQUIRE(watchdog.init(loop.get()) == 0);
        watchdog.on_fire([this] {
            FAIL_CHECK("the connection did not finish in time");
            child.terminate(0ms);
            close_all();
        });
        watchdog.start(10s);
        REQUIRE(ticker.init(loop.get()) == 0);
    }

    void on_peer(int events) {
        if ((events & UV_WRITABLE) != 0) {
            while (sending && sent < to_send.size()) {
                ssize_t n = ::write(peer, to_send.data() + sent, std::min<std::size_t>(to_send.size() - sent, 256 * 1024));
                if (n <= 0) break;
                sent += static_cast<std::size_t>(n);
            }
            if (sending && sent == to_send.size() && shutdown_after_send) {
                shutdown(peer, SHUT_WR);
                sending = false;
            }
        }
        if ((events & UV_READABLE) != 0 && reading) {
            char buf[64 * 1024];
            for (;;) {
                ssize_t n = ::read(peer, buf, sizeof buf);
                if (n > 0) {
                    received.append(buf, static_cast<std::size_t>(n));
                    continue;
                }
                if (n == 0) peer_eof = true;
                break;
            }
        }
        if (after_peer_event) after_peer_event();
        update_peer();
        maybe_done();
    }

    void update_peer() {
        if (peer_poll.closing()) return;
        int events = 0;
        if (sending) events |= UV_WRITABLE;
        if (reading && !peer_eof) events |= UV_READABLE;
        (void)peer_poll.watch(events);
    }

    // Resumes reading from a timer or a hook.
    void resume_reading() {
        reading = true;
        update_peer();
    }

    void maybe_done() {
        if (peer_eof && finished && exit && stderr_ended) close_all();
    }

    void close_all() {
        watchdog.stop();
        int pending = 6;
        auto one = [this, pending]() mutable {
            if (--pending == 0) all_closed = true;
        };
        auto shared = std::make_shared<std::function<void()>>(one);
        auto done = [shared] { (*shared)(); };
        // A part the test closed itself already counts: its own close
        // callback stands, and loop.close() checks that it ran.
        auto close = [&done](auto& part) {
            if (part.closing()) {
                done();
            } else {
                part.close(done);
            }
        };
        close(pump);
        close(child);
        close(stderr_lines);
        if (peer_poll.closing()) {
            done();
        } else {
            peer_poll.close([this, done] {
                if (peer >= 0) ::close(peer);
                peer = -1;
                done();
            });
        }
        close(watchdog);
        close(ticker);
    }

    void run() {
        loop.run();
        CHECK(all_closed);
        CHECK(finished_reports <= 1);
        CHECK(loop.close() == 0);
    }
};

}  // namespace

TEST_CASE("1 MiB each way through cat arrives intact and is counted") {
    for (Transport transport : {Transport::unix_stream, Transport::tcp}) {
        CAPTURE(static_cast<int>(transport));
        Connection c;
        c.to_send = random_bytes(k_mib, 1);
        c.start({"/bin/cat"}, transport);
        c.run();
        CHECK(c.received.size() == k_mib);
        bool intact = c.received == c.to_send;
        CHECK(intact);
        CHECK(c.pump.bytes_in() == k_mib);
        CHECK(c.pump.bytes_out() == k_mib);
        CHECK(c.pump.error(Way::in) == 0);
        CHECK(c.pump.error(Way::out) == 0);
        CHECK(c.pump.buffered(Way::in) == 0);
        REQUIRE(c.exit);
        CHECK(c.exit->describe() == "exit 0");
        CHECK(c.errors.empty());
    }
}

TEST_CASE("client half-close: the child reads EOF and its output still arrives in full") {
    Connection c;
    c.to_send = "hello, half-closed world\n";
    c.start({"/bin/sh", "-c", "cat; echo 'saw EOF'"});
    c.run();
    CHECK(c.received == "hello, half-closed world\nsaw EOF\n");
    CHECK(c.finished);
    CHECK(c.pump.done(Way::in));
    CHECK(c.pump.done(Way::out));
    CHECK(c.pump.bytes_out() == c.received.size());
}

TEST_CASE("child stdout EOF: the client reads EOF while its input keeps flowing to the child") {
    Connection c;
    c.sending = false;  // wait until the output side is over
    c.start({"/bin/sh", "-c", "echo hi; exec 1>&-; wc -c >&2"});
    c.after_peer_event = [&c] {
        if (c.peer_eof && !c.sending && c.to_send.empty()) {
            CHECK(c.received == "hi\n");
            CHECK(c.pump.done(Way::out));
            CHECK_FALSE(c.pump.done(Way::in));
            c.to_send = random_bytes(200 * 1024, 2);
            c.sending = true;
        }
    };
    c.run();
    CHECK(c.errors == std::vector<std::string>{"204800"});
    CHECK(c.pump.bytes_in() == 200 * 1024);
    CHECK(c.pump.bytes_out() == 3);
    REQUIRE(c.exit);
    CHECK(c.exit->code == 0);
}

TEST_CASE("a child that stops reading: its input is discarded, the client is never stuck") {
    Connection c;
    c.to_send = random_bytes(k_mib, 3);
    c.start({"/usr/bin/head", "-c", "10"});
    c.run();
    CHECK(c.received == c.to_send.substr(0, 10));
    CHECK(c.sent == k_mib);  // the client wrote everything: the pump kept reading
    CHECK(c.pump.error(Way::in) == -EPIPE);
    CHECK(c.pump.bytes_in() < k_mib);
    CHECK(c.pump.bytes_out() == 10);
}

TEST_CASE("a reset client ends both directions and the child sees EOF") {
    Connection c;
    c.to_send = "ping\n";
    c.shutdown_after_send = false;
    c.start({"/bin/cat"}, Transport::tcp);
    c.after_peer_event = [&c] {
        if (c.received == "ping\n" && !c.peer_poll.closing()) {
            linger abort{1, 0};
            setsockopt(c.peer, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
            c.peer_poll.close([&c] {
                ::close(c.peer);  // RST
                c.peer = -1;
            });
            c.peer_eof = true;
        }
    };
    c.run();
    CHECK(c.finished);
    CHECK(c.pump.error(Way::in) == -ECONNRESET);
    CHECK(c.pump.error(Way::out) == -ECONNRESET);
    REQUIRE(c.exit);
    CHECK(c.exit->code == 0);  // cat read EOF and exited
}

namespace {

std::chrono::microseconds cpu_time() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto us = [](timeval t) { return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec); };
    return us(usage.ru_utime) + us(usage.ru_stime);
}

ssize_t no_splice(int, int, std::size_t, unsigned) {
    errno = EINVAL;
    return -1;
}

// A client floods 8 MiB through cat but reads nothing for 400 ms: the pump
// must stop reading (the client's writes stall) and hold at most one chunk
// per direction; then everything arrives.
void check_backpressure(io::SplicePump::SpliceCall splice_call) {
    Connection c;
    c.to_send = random_bytes(8 * k_mib, 4);
    c.reading = false;
    c.start({"/bin/cat"}, Transport::unix_stream, splice_call);
    std::size_t most_buffered = 0;
    std::size_t sent_when_resumed = 0;
    std::chrono::microseconds cpu_at_200{0};
    std::chrono::microseconds stalled_cpu{0};
    int ticks = 0;
    auto sample = [&] {
        most_buffered = std::max({most_buffered, c.pump.buffered(Way::in), c.pump.buffered(Way::out)});
    };
    c.after_peer_event = sample;
    c.ticker.on_fire([&] {
        ++ticks;
        sample();
        if (ticks == 20) cpu_at_200 = cpu_time();
        if (ticks == 40) {
            stalled_cpu = cpu_time() - cpu_at_200;
            sent_when_resumed = c.sent;
            c.resume_reading();
            c.ticker.stop();
        }
    });
    c.ticker.start(10ms, 10ms);
    c.run();
    CHECK(ticks == 40);
    CHECK(sent_when_resumed > 0);
    CHECK(sent_when_resumed < 4 * k_mib);  // stalled: what got in fits in kernel buffers
    CHECK(stalled_cpu < 100ms);  // waiting, not spinning on a ready fd
    CHECK(most_buffered <= io::SplicePump::k_chunk);
    if (splice_call != nullptr) CHECK(most_buffered > 0);  // the copy path really ran
    CHECK(c.received.size() == 8 * k_mib);
    bool intact = c.received == c.to_send;
    CHECK(intact);
    CHECK(c.pump.bytes_in() == 8 * k_mib);
    CHECK(c.pump.bytes_out() == 8 * k_mib);
}

}  // namespace

TEST_CASE("backpressure: a client that does not read stops the flow; memory stays bounded") {
    SUBCASE("splice") { check_backpressure(nullptr); }
    SUBCASE("copy fallback (splice refused with EINVAL)") { check_backpressure(no_splice); }
}

TEST_CASE("the copy fallback round-trips and half-closes like splice") {
    Connection c;
    c.to_send = random_bytes(k_mib, 5);
    c.start({"/bin/sh", "-c", "cat; echo end"}, Transport::tcp, no_splice);
    c.run();
    bool intact = c.received == c.to_send + "end\n";
    CHECK(intact);
    CHECK(c.pump.bytes_in() == k_mib);
    CHECK(c.pump.bytes_out() == k_mib + 4);
    CHECK(c.pump.buffered(Way::in) == 0);
    CHECK(c.pump.buffered(Way::out) == 0);
}

TEST_CASE("closing a pump mid-transfer releases everything without reporting finished") {
    Connection c;
    c.to_send = random_bytes(k_mib, 6);
    c.reading = false;
    c.start({"/bin/cat"});
    bool pump_closed = false;
    c.ticker.on_fire([&c, &pump_closed] {
        c.pump.close([&pump_closed] { pump_closed = true; });
        CHECK_FALSE(pump_closed);  // asynchronous
        c.finished = true;         // the harness waits for these
        c.peer_eof = true;
    });
    c.ticker.start(50ms);
    c.run();
    CHECK(pump_closed);
    CHECK(c.finished_reports == 0);
    REQUIRE(c.exit);  // cat saw EOF, or died writing to a closed pipe
}
