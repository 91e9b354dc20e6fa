// services/wait_service and the ChildRun under it: backoff that holds the
// socket, what counts as a failed run, the socket's blocking mode, retiring
// with a grace, and a child that cannot be watched — on a real loop with a
// real listening socket and real children.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "services/child_run.hpp"
#include "services/wait_service.hpp"
#include "uv/loop.hpp"
#include "uv/timer.hpp"

using namespace sb;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool blocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) == 0; }

// A non-blocking TCP listener on 127.0.0.1 and a way to queue connections on it.
struct TcpListener {
    int fd = -1;
    sockaddr_in address{};
    std::vector<int> clients;

    TcpListener() {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof address;
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) == 0);
        REQUIRE(listen(fd, 16) == 0);
    }
    TcpListener(const TcpListener&) = delete;
    TcpListener& operator=(const TcpListener&) = delete;
    ~TcpListener() {
        for (int c : clients) ::close(c);
        if (fd >= 0) ::close(fd);
    }
    // A connection that waits in the backlog until someone accepts it.
    void queue_client() {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(connect(c, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        clients.push_back(c);
    }
};

// One WaitService on one loop, recording its events, with a watchdog so a
// broken test cannot hang.
struct Fixture {
    uv::Loop loop;
    process::Spawner spawner;
    TcpListener listener;
    uv::Timer watchdog;
    services::WaitService* service = nullptr;
    services::WaitService* closing = nullptr;  // after close(), until `closed`
    std::vector<std::string> events;
    std::optional<process::ExitStatus> status;
    Clock::time_point exited_at;
    Clock::time_point released_at;
    std::function<void()> on_spawned;
    std::function<void()> on_exited;
    std::function<void()> on_released;
    bool closed = false;

    Fixture() {
        REQUIRE(loop.ok());
        services::WaitService::Events e{
            .hold = [this] { events.emplace_back("hold"); },
            .release =
                [this] {
                    events.emplace_back("release");
                    released_at = Clock::now();
                    if (on_released) on_released();
                },
            .spawned =
                [this](pid_t) {
                    events.emplace_back("spawned");
                    if (on_spawned) on_spawned();
                },
            .spawn_failed = [this](std::string_view) { events.emplace_back("spawn-failed"); },
            .exited =
                [this](pid_t, const process::ExitStatus& s) {
                    events.emplace_back("exited");
                    status = s;
                    exited_at = Clock::now();
                    if (on_exited) on_exited();
                },
        };
        service = new services::WaitService(loop.get(), spawner, std::move(e));
        REQUIRE(service->init() == 0);
        REQUIRE(watchdog.init(loop.get()) == 0);
        watchdog.on_fire([this] {
            FAIL_CHECK("the wait service did not finish in time");
            if (service == nullptr && !closed) closing->terminate();
            close(0ms);
        });
        watchdog.start(10s);
        watchdog.unref();
    }

    static std::shared_ptr<const config::Service> definition(std::vector<std::string> argv) {
        config::Exec exec;
        exec.argv = std::move(argv);
        exec.wait = true;
        exec.grace = 200ms;
        config::Service s;
        s.name = "w";
        s.action = exec;
        return std::make_shared<const config::Service>(s);
    }

    void close(std::chrono::milliseconds grace) {
        if (service == nullptr) return;
        closing = service;
        service = nullptr;
        closing->close(grace, [this] { closed = true; });
    }

    void finish() {
        loop.run();
        CHECK(closed);
        watchdog.close();
        CHECK(loop.close() == 0);
    }
};

}  // namespace

TEST_CASE("a failed spawn holds the socket until its backoff is over") {
    Fixture f;
    f.on_released = [&] { f.close(0ms); };
    auto triggered = Clock::now();
    f.service->trigger(f.listener.fd, Fixture::definition({"/nonexistent/program"}));
    // Held before anything else: a level-triggered watch must not spin meanwhile.
    CHECK(f.events == std::vector<std::string>{"hold", "spawn-failed"});
    CHECK(f.service->failures() == 1);
    f.service->trigger(f.listener.fd, Fixture::definition({"/nonexistent/program"}));  // backing off: nothing
    CHECK(f.events.size() == 2);
    f.finish();
    CHECK(f.events == std::vector<std::string>{"hold", "spawn-failed", "release"});
    CHECK(f.released_at - triggered >= 90ms);
    CHECK(blocking(f.listener.fd) == false);
}

// A bound UDP socket on 127.0.0.1 with `n` datagrams waiting on it.
struct UdpSocket {
    int fd = -1;
    int sender = -1;

    explicit UdpSocket(int n) {
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof address;
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) == 0);
        sender = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        for (int i = 0; i < n; ++i) {
            std::string text = "datagram " + std::to_string(i);
            REQUIRE(sendto(sender, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&address),
                           sizeof address) == static_cast<ssize_t>(text.size()));
        }
    }
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;
    ~UdpSocket() {
        ::close(sender);
        ::close(fd);
    }
};

// Runs one child on `socket` and says how many failures it left behind and
// how long after its exit the socket was released.
struct QuickRun {
    unsigned failures = 99;
    Clock::duration release_delay{};
};

QuickRun quick_run(Fixture& f, int socket, std::vector<std::string> argv) {
    QuickRun run;
    f.on_released = [&] {
        run.failures = f.service->failures();
        f.close(0ms);
    };
    f.service->trigger(socket, Fixture::definition(std::move(argv)));
    f.finish();
    REQUIRE(f.status);
    CHECK(f.status->describe() == "exit 0");
    CHECK(f.events == std::vector<std::string>{"hold", "spawned", "exited", "release"});
    run.release_delay = f.released_at - f.exited_at;
    return run;
}

TEST_CASE("a quick successful run counts as failed only when it left the datagram that woke it") {
    SUBCASE("UDP, exit 0 without reading: backed off") {
        Fixture f;
        UdpSocket udp(1);
        QuickRun run = quick_run(f, udp.fd, {"/bin/true"});
        CHECK(run.failures == 1);
        CHECK(run.release_delay >= 90ms);
    }
    SUBCASE("UDP, exit 0 having read its datagram, with the next one waiting: released at once") {
        Fixture f;
        UdpSocket udp(2);
        QuickRun run = quick_run(f, udp.fd, {"/usr/bin/python3", "-c", "import socket; socket.socket(fileno=0).recv(100)"});
        CHECK(run.failures == 0);
        CHECK(run.release_delay < 90ms);
    }
    SUBCASE("TCP, exit 0 having accepted one connection, with the next one waiting: released at once") {
        // A healthy one-connection-per-child server under back-to-back
        // clients: what waits at its exit is the next client, not its own.
        Fixture f;
        f.listener.queue_client();
        f.listener.queue_client();
        QuickRun run = quick_run(f, f.listener.fd,
                                 {"/usr/bin/python3", "-c", "import socket; socket.socket(fileno=0).accept()[0].close()"});
        CHECK(run.failures == 0);
        CHECK(run.release_delay < 90ms);
    }
}

TEST_CASE("the child's blocking mode is undone on the socket, not on whatever reuses the server's fd number") {
    Fixture f;
    int observer = fcntl(f.listener.fd, F_DUPFD_CLOEXEC, 0);  // the same file description
    int number = f.listener.fd;
    bool blocking_while_running = false;
    f.on_spawned = [&] { blocking_while_running = blocking(observer); };
    f.on_exited = [&] { f.close(0ms); };
    f.service->trigger(number, Fixture::definition({"/bin/sleep", "0.2"}));
    // The server closes the listener while the child runs; the number is
    // reused at once, here by a blocking pipe.
    ::close(f.listener.fd);
    f.listener.fd = -1;
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    if (p[0] != number) {
        REQUIRE(dup3(p[0], number, O_CLOEXEC) == number);
        ::close(p[0]);
    }
    f.finish();
    CHECK(blocking_while_running);
    CHECK_FALSE(blocking(observer));  // ours again: non-blocking
    CHECK(blocking(number));          // the pipe was left alone
    ::close(number);
    ::close(p[1]);
    ::close(observer);
}

TEST_CASE("close(grace) lets the running child go on for the grace, then terminates it") {
    Fixture f;
    f.listener.queue_client();
    f.service->trigger(f.listener.fd, Fixture::definition({"/bin/sleep", "30"}));
    REQUIRE(f.service->running());
    auto asked = Clock::now();
    f.close(300ms);
    f.finish();
    REQUIRE(f.status);
    CHECK(f.status->describe() == "signal SIGTERM");
    CHECK(f.exited_at - asked >= 290ms);
    CHECK(f.exited_at - asked < 3s);
    // No hold or release once closed: the socket may belong to someone else by then.
    CHECK(f.events == std::vector<std::string>{"hold", "spawned", "exited"});
}

TEST_CASE("close(k_no_deadline) waits for the child until terminate()") {
    Fixture f;
    f.listener.queue_client();
    f.service->trigger(f.listener.fd, Fixture::definition({"/bin/sleep", "30"}));
    auto* service = f.service;
    f.close(services::WaitService::k_no_deadline);
    uv::Timer later;
    REQUIRE(later.init(f.loop.get()) == 0);
    later.on_fire([&] {
        CHECK_FALSE(f.status);  // still running after 300 ms
        service->terminate();
        later.close();
    });
    later.start(300ms);
    f.finish();
    REQUIRE(f.status);
    CHECK(f.status->describe() == "signal SIGTERM");
}

TEST_CASE("a child whose pidfd cannot be watched is killed, reaped and reported once, from the loop") {
    for (bool stderr_too : {false, true}) {
        CAPTURE(stderr_too);
        uv::Loop loop;
        process::Spawner spawner;
        services::ChildRun run;
        run.fail_watches_for_testing(UV_ENOMEM, stderr_too);
        int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        process::SpawnRequest request;
        request.argv = {"/bin/sh", "-c", "trap '' TERM; exec sleep 30"};
        request.fds = {{devnull, 0}, {devnull, 1}};
        int reports = 0;
        std::optional<process::ExitStatus> status;
        bool closed = false;
        std::string error;
        REQUIRE(run.start(loop.get(), spawner, request, "w",
                          [&](const process::ExitStatus& s) {
                              ++reports;
                              status = s;
                              run.close([&] { closed = true; });
                          },
                          error) == 0);
        ::close(devnull);
        pid_t pid = run.pid();
        CHECK(pid > 0);
        CHECK(reports == 0);  // never from within start()
        uv::Timer watchdog;
        REQUIRE(watchdog.init(loop.get()) == 0);
        watchdog.on_fire([&] {
            FAIL_CHECK("the run was never reported");
            run.close([&] { closed = true; });
        });
        watchdog.start(5s);
        watchdog.unref();
        loop.run();
        CHECK(reports == 1);
        CHECK(closed);
        REQUIRE(status);
        CHECK(status->describe() == "signal SIGKILL");
        CHECK(waitpid(pid, nullptr, WNOHANG) == -1);  // reaped: no zombie
        watchdog.close();
        CHECK(loop.close() == 0);
    }
}
