// sd_notify from the protocol: the datagrams a real AF_UNIX receiver gets,
// at a path and at an abstract name; the watchdog interval; never blocking.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "control/sd_notify.hpp"
#include "temp_dir.hpp"

using sb::control::SdNotifier;

namespace {

// A datagram receiver bound to `name` ("/path" or "@abstract").
struct Receiver {
    int fd = -1;

    explicit Receiver(const std::string& name) {
        fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd >= 0);
        sockaddr_un un{};
        un.sun_family = AF_UNIX;
        std::memcpy(un.sun_path, name.data(), name.size());
        std::size_t length = offsetof(sockaddr_un, sun_path) + name.size();
        if (name.front() == '@') {
            un.sun_path[0] = '\0';
        } else {
            ++length;
        }
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&un), static_cast<socklen_t>(length)) == 0);
    }
    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;
    ~Receiver() { ::close(fd); }

    // The next datagram, or "(none)" when nothing arrives within a second.
    std::string next() const {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 1000) != 1) return "(none)";
        char buf[4096];
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n < 0 ? "(error)" : std::string(buf, static_cast<std::size_t>(n));
    }
};

// NULL-terminated pointers into `entries`, which must outlive them.
std::vector<const char*> env_of(const std::vector<std::string>& entries) {
    std::vector<const char*> out;
    for (const auto& e : entries) out.push_back(e.c_str());
    out.push_back(nullptr);
    return out;
}

}  // namespace

TEST_CASE("sd_notify: the documented messages reach a socket given by path") {
    sb::test::TempDir dir("sb-notify");
    std::string path = dir.path + "/notify";
    Receiver receiver(path);
    std::vector<std::string> entries = {"NOTIFY_SOCKET=" + path};
    auto env = env_of(entries);
    SdNotifier notifier(env.data());
    REQUIRE(notifier.enabled());
    CHECK(notifier.problem().empty());

    CHECK(notifier.ready("serving 3 services") == 0);
    CHECK(receiver.next() == "READY=1\nSTATUS=serving 3 services\n");
    CHECK(notifier.ready() == 0);
    CHECK(receiver.next() == "READY=1\n");

    std::uint64_t before = SdNotifier::monotonic_usec();
    CHECK(notifier.reloading() == 0);
    std::uint64_t after = SdNotifier::monotonic_usec();
    std::string reloading = receiver.next();
    REQUIRE(reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="));
    std::uint64_t stamp = std::stoull(reloading.substr(std::strlen("RELOADING=1\nMONOTONIC_USEC=")));
    CHECK(reloading.ends_with("\n"));
    CHECK(stamp >= before);
    CHECK(stamp <= after);
    // MONOTONIC_USEC is CLOCK_MONOTONIC, the clock systemd compares it with.
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    CHECK(stamp <= static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u);

    CHECK(notifier.stopping("draining\n2 connections") == 0);
    CHECK(receiver.next() == "STOPPING=1\nSTATUS=draining 2 connections\n");
    CHECK(notifier.watchdog() == 0);
    CHECK(receiver.next() == "WATCHDOG=1\n");
    CHECK(notifier.status("hello") == 0);
    CHECK(receiver.next() == "STATUS=hello\n");
}

TEST_CASE("sd_notify: an abstract socket ('@name')") {
    std::string name = "@sb-notify-test-" + std::to_string(::getpid());
    Receiver receiver(name);
    std::vector<std::string> entries = {"HOME=/", "NOTIFY_SOCKET=" + name};
    auto env = env_of(entries);
    SdNotifier notifier(env.data());
    REQUIRE(notifier.enabled());
    CHECK(notifier.ready("up") == 0);
    CHECK(receiver.next() == "READY=1\nSTATUS=up\n");
}

TEST_CASE("sd_notify: without NOTIFY_SOCKET nothing is sent and nothing fails") {
    std::vector<std::string> home = {"HOME=/"};
    auto env = env_of(home);
    SdNotifier notifier(env.data());
    CHECK_FALSE(notifier.enabled());
    CHECK(notifier.problem().empty());
    CHECK(notifier.ready("x") == 0);
    CHECK(notifier.watchdog() == 0);

    std::vector<std::string> vsock = {"NOTIFY_SOCKET=vsock:2:1234"};
    auto odd = env_of(vsock);
    SdNotifier unusable(odd.data());
    CHECK_FALSE(unusable.enabled());
    CHECK(unusable.problem().find("neither a path nor an abstract name") != std::string::npos);
}

TEST_CASE("sd_notify: an absent or full receiver is an error value, never a blocked loop") {
    sb::test::TempDir dir("sb-notify");
    std::string path = dir.path + "/notify";
    std::vector<std::string> entries = {"NOTIFY_SOCKET=" + path};
    auto env = env_of(entries);
    SdNotifier notifier(env.data());
    REQUIRE(notifier.enabled());
    CHECK(notifier.ready() == ENOENT);  // nobody bound yet

    Receiver receiver(path);  // bound, but never reads
    int error = 0;
    int sent = 0;
    for (; sent < 100000 && error == 0; ++sent) error = notifier.watchdog();
    CHECK(error == EAGAIN);
    CHECK(sent > 1);
    CHECK(receiver.next() == "WATCHDOG=1\n");
}

TEST_CASE("sd_notify: the watchdog interval is half WATCHDOG_USEC, only for us") {
    using std::chrono::microseconds;
    auto interval = [](std::vector<std::string> entries) {
        auto env = env_of(entries);
        return SdNotifier(env.data()).watchdog_interval();
    };
    std::string self = std::to_string(::getpid());
    CHECK(interval({}) == microseconds(0));
    CHECK(interval({"WATCHDOG_USEC=30000000"}) == microseconds(15000000));
    CHECK(interval({"WATCHDOG_USEC=30000000", "WATCHDOG_PID=" + self}) == microseconds(15000000));
    CHECK(interval({"WATCHDOG_USEC=30000000", "WATCHDOG_PID=" + std::to_string(::getpid() + 1)}) == microseconds(0));
    CHECK(interval({"WATCHDOG_USEC=30000000", "WATCHDOG_PID=x"}) == microseconds(0));
    CHECK(interval({"WATCHDOG_USEC=0"}) == microseconds(0));
    CHECK(interval({"WATCHDOG_USEC=soon"}) == microseconds(0));
}
