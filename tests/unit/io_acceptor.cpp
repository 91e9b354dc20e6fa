// io::Acceptor, the listener the services and the control socket share: it
// accepts within its budget, stops when told to mid-loop, and on close
// removes its UNIX socket file only while that file is still its own.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "io/acceptor.hpp"
#include "temp_dir.hpp"
#include "uv/loop.hpp"

using namespace sb;
using sb::test::TempDir;

namespace {

net::BoundSocket bind_unix(const std::string& path) {
    net::Listen l;
    l.endpoint.transport = net::Transport::unix_stream;
    l.endpoint.host = path;
    l.options.backlog = 16;
    net::BoundSocket bound;
    std::string error;
    REQUIRE_MESSAGE(net::bind_listener(l, bound, error) == 0, error);
    REQUIRE(bound.created_file);
    return bound;
}

Fd connect_unix(const std::string& path) {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    REQUIRE(::connect(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    return fd;
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("accepts what is waiting, a budget per wakeup, and stops when the callee says so") {
    TempDir dir{"sb-acceptor"};
    std::string path = dir.path + "/a.sock";
    uv::Loop loop;
    std::string error;
    io::Acceptor* acceptor = io::Acceptor::adopt(loop.get(), bind_unix(path), "unix:" + path, error);
    REQUIRE_MESSAGE(acceptor != nullptr, error);
    acceptor->set_budget(2);
    std::vector<Fd> accepted;
    bool stop_after_three = false;
    io::Acceptor::Events events;
    events.accepted = [&](Fd fd, const net::SockAddr& peer) {
        CHECK(peer.family() == AF_UNIX);
        accepted.push_back(std::move(fd));
        if (stop_after_three && accepted.size() == 3) (void)acceptor->watch(false);
    };
    acceptor->set_events(std::move(events));
    std::vector<Fd> clients;
    for (int i = 0; i < 5; ++i) clients.push_back(connect_unix(path));
    REQUIRE(acceptor->watch(true) == 0);
    loop.run(UV_RUN_NOWAIT);
    CHECK(accepted.size() == 2);  // the budget of one wakeup
    for (int i = 0; i < 5 && accepted.size() < 5; ++i) loop.run(UV_RUN_NOWAIT);
    CHECK(accepted.size() == 5);

    accepted.clear();
    stop_after_three = true;
    for (int i = 0; i < 4; ++i) clients.push_back(connect_unix(path));
    acceptor->set_budget(io::Acceptor::k_default_budget);
    for (int i = 0; i < 3; ++i) loop.run(UV_RUN_NOWAIT);
    CHECK(accepted.size() == 3);  // paused mid-loop: the fourth waits
    CHECK_FALSE(acceptor->watching());

    acceptor->close(true);
    CHECK(loop.close() == 0);
    CHECK_FALSE(exists(path));
}

TEST_CASE("close leaves a socket file that another process has put in its place") {
    TempDir dir{"sb-acceptor"};
    std::string path = dir.path + "/b.sock";
    uv::Loop loop;
    std::string error;
    io::Acceptor* acceptor = io::Acceptor::adopt(loop.get(), bind_unix(path), "unix:" + path, error);
    REQUIRE(acceptor != nullptr);
    // Someone else binds a fresh socket at the same path (ours unlinked first).
    REQUIRE(::unlink(path.c_str()) == 0);
    Fd other(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    REQUIRE(::bind(other.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    bool done = false;
    acceptor->close(true, [&] { done = true; });
    CHECK(loop.close() == 0);
    CHECK(done);
    CHECK(exists(path));  // not ours any more: left alone
}

TEST_CASE("a failed accept is reported, and the owner decides whether to go on") {
    net::BoundSocket bound;
    bound.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(bound.fd >= 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(bound.fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0);
    REQUIRE(::listen(bound.fd, 8) == 0);
    uv::Loop loop;
    std::string error;
    io::Acceptor* acceptor = io::Acceptor::adopt(loop.get(), bound, "tcp://127.0.0.1", error);
    REQUIRE(acceptor != nullptr);
    int failure = 0;
    io::Acceptor::Events events;
    events.accepted = [&](Fd, const net::SockAddr&) { FAIL("nothing should be accepted"); };
    events.failed = [&](int err) {
        failure = err;
        (void)acceptor->watch(false);
    };
    acceptor->set_events(std::move(events));
    // A socket that no longer listens (a wait-mode child may do this to
    // it): it polls ready, and accept4 fails with EINVAL.
    REQUIRE(::shutdown(acceptor->fd(), SHUT_RDWR) == 0);
    REQUIRE(acceptor->watch(true) == 0);
    for (int i = 0; i < 3 && failure == 0; ++i) loop.run(UV_RUN_NOWAIT);
    CHECK(failure == EINVAL);
    CHECK_FALSE(io::Acceptor::out_of_resources(EINVAL));
    CHECK(io::Acceptor::out_of_resources(EMFILE));
    CHECK_FALSE(acceptor->watching());
    acceptor->close(true);
    CHECK(loop.close() == 0);
}
