// Binding UNIX listeners by hand: a stale socket file is replaced, a live
// one is not, and probing a live one never blocks, even when its backlog is
// full (the probe runs on the loop during a reload).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "net/socket.hpp"

using namespace sb;
using sb::test::TempDir;

namespace {

sockaddr_un unix_address(const std::string& path) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    return sun;
}

net::Listen unix_listen(const std::string& path) {
    net::Listen l;
    l.endpoint.transport = net::Transport::unix_stream;
    l.endpoint.host = path;
    l.options.backlog = 8;
    return l;
}

}  // namespace

TEST_CASE("a socket file nobody listens on is replaced") {
    TempDir dir{"sb-socket"};
    std::string path = dir.path + "/stale.sock";
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun = unix_address(path);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    ::close(fd);

    net::BoundSocket bound;
    std::string error;
    REQUIRE_MESSAGE(net::bind_listener(unix_listen(path), bound, error) == 0, error);
    CHECK(bound.created_file);
    ::close(bound.fd);
}

TEST_CASE("a listener with a full backlog is in use, and probing it does not block") {
    TempDir dir{"sb-socket"};
    std::string path = dir.path + "/busy.sock";
    int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun = unix_address(path);
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
    REQUIRE(::listen(listener, 0) == 0);
    // Fill the backlog: connect until the kernel says it would have to wait.
    std::vector<int> clients;
    for (int i = 0; i < 64; ++i) {
        int c = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        REQUIRE(c >= 0);
        if (::connect(c, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
            int err = errno;
            ::close(c);
            REQUIRE(err == EAGAIN);
            break;
        }
        clients.push_back(c);
    }
    REQUIRE_FALSE(clients.empty());

    auto probe = std::async(std::launch::async, [&] {
        net::BoundSocket bound;
        std::string error;
        int rc = net::bind_listener(unix_listen(path), bound, error);
        if (bound.fd >= 0) ::close(bound.fd);
        return std::make_pair(rc, error);
    });
    bool answered = probe.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
    // A blocked probe goes on once the backlog has room: don't leave it hanging.
    if (!answered) ::close(::accept(listener, nullptr, nullptr));
    auto [rc, error] = probe.get();
    CHECK_MESSAGE(answered, "bind_listener blocked on a listener with a full backlog");
    if (answered) {
        CHECK(rc == -EADDRINUSE);
        CHECK(error.find("in use") != std::string::npos);
        struct stat st {};
        CHECK(::stat(path.c_str(), &st) == 0);  // the live socket's file is untouched
    }
    for (int c : clients) ::close(c);
    ::close(listener);
}

TEST_CASE("a socket file is removed only while it is still the one this listener created") {
    TempDir dir{"sb-socket"};
    std::string path = dir.path + "/s.sock";
    net::BoundSocket bound;
    std::string error;
    REQUIRE_MESSAGE(net::bind_listener(unix_listen(path), bound, error) == 0, error);
    REQUIRE(bound.created_file);
    CHECK(bound.file.path == path);

    // Another process replaced the file meanwhile: it is not ours to remove.
    REQUIRE(::unlink(path.c_str()) == 0);
    int other = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(other >= 0);
    ::close(other);
    net::remove_socket_file(bound.file);
    struct stat st{};
    CHECK(::lstat(path.c_str(), &st) == 0);

    // Our own file is removed.
    REQUIRE(::unlink(path.c_str()) == 0);
    net::BoundSocket again;
    REQUIRE_MESSAGE(net::bind_listener(unix_listen(path), again, error) == 0, error);
    net::remove_socket_file(again.file);
    CHECK(::lstat(path.c_str(), &st) != 0);
    ::close(bound.fd);
    ::close(again.fd);
}

TEST_CASE("a socket file gets its mode at once, under the caller's umask restored") {
    TempDir dir{"sb-socket"};
    std::string path = dir.path + "/s.sock";
    auto listen = unix_listen(path);
    listen.options.mode = 0660;
    mode_t before = ::umask(0);
    net::BoundSocket bound;
    std::string error;
    REQUIRE_MESSAGE(net::bind_listener(listen, bound, error) == 0, error);
    CHECK(::umask(before) == 0);  // the server's own umask is back
    struct stat st{};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0660);
    CHECK(st.st_uid == ::geteuid());

    // Later changes reach that socket only: not a symlink put in its place.
    listen.options.mode = 0600;
    CHECK(net::set_socket_file_access(bound.file, listen.options, error) == 0);
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    std::string target = dir.path + "/target";
    int t = ::open(target.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(t >= 0);
    ::close(t);
    REQUIRE(::unlink(path.c_str()) == 0);
    REQUIRE(::symlink(target.c_str(), path.c_str()) == 0);
    listen.options.mode = 0666;
    CHECK(net::set_socket_file_access(bound.file, listen.options, error) == -ESTALE);
    REQUIRE(::stat(target.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    ::close(bound.fd);
}

TEST_CASE("a socket directory another user could write to is refused at bind time") {
    TempDir dir{"sb-socket"};
    std::string sub = dir.path + "/open";
    REQUIRE(::mkdir(sub.c_str(), 0755) == 0);
    REQUIRE(::chmod(sub.c_str(), 0777) == 0);
    net::BoundSocket bound;
    std::string error;
    CHECK(net::bind_listener(unix_listen(sub + "/s.sock"), bound, error) == -EPERM);
    CHECK(error.find("writable by other users") != std::string::npos);
    REQUIRE(::chmod(sub.c_str(), 01777) == 0);  // sticky, like /tmp: accepted
    REQUIRE_MESSAGE(net::bind_listener(unix_listen(sub + "/s.sock"), bound, error) == 0, error);
    ::close(bound.fd);
}
