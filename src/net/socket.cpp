// Listening sockets bound by hand (see socket.hpp).
#include "net/socket.hpp"

#include "sys/faults.hpp"
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "switchboard/fd.hpp"

namespace sb::net {
namespace {

int fail(int err, std::string& error, const Listen& listen, std::string_view what) {
    error = "cannot " + std::string(what) + " " + listen.endpoint.to_string() + ": " + std::strerror(err);
    return -err;
}

int set_flag(int fd, int level, int name, int value) {
    return ::setsockopt(fd, level, name, &value, sizeof value);
}

int bind_unix(const Listen& listen, BoundSocket& out, std::string& error) {
    const auto& ep = listen.endpoint;
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (ep.host.size() + 1 > sizeof sun.sun_path) {
        return fail(ENAMETOOLONG, error, listen, "bind");
    }
    Fd owned(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int fd = owned.get();
    if (fd < 0) return fail(errno, error, listen, "create a socket for");
    if (ep.abstract) {
        sun.sun_path[0] = '\0';
        std::memcpy(sun.sun_path + 1, ep.host.data(), ep.host.size());
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + ep.host.size());
        if (sys::bind(fd, reinterpret_cast<sockaddr*>(&sun), len) != 0) return fail(errno, error, listen, "bind");
    } else {
        std::string why;
        if (int rc = bind_socket_file(fd, ep.host, listen.options, out.file, why); rc < 0) {
            error = "cannot bind " + ep.to_string() + ": " + why;
            return rc;
        }
        out.created_file = true;
    }
    if (sys::listen(fd, listen.options.backlog) != 0) {
        int err = errno;
        owned.reset();
        remove_socket_file(out.file);
        out = {};
        return fail(err, error, listen, "listen on");
    }
    out.fd = owned.release();
    return 0;
}

}  // namespace

int bind_listener(const Listen& listen, BoundSocket& out, std::string& error) {
    out = {};
    const auto& ep = listen.endpoint;
    if (ep.transport == Transport::unix_stream) {
        return bind_unix(listen, out, error);
    }
    auto addr = ep.literal_address();
    if (!addr) {
        error = "cannot bind " + ep.to_string() + ": not a literal address";
        return -EINVAL;
    }
    int type = ep.transport == Transport::udp ? SOCK_DGRAM : SOCK_STREAM;
    Fd owned(::socket(addr->family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int fd = owned.get();
    if (fd < 0) return fail(errno, error, listen, "create a socket for");
    const auto& o = listen.options;
    // TCP: SO_REUSEADDR lets a restart bind while old connections sit in
    // TIME_WAIT. UDP has no TIME_WAIT, and there the flag would let any
    // local user's socket that also sets it bind the same address and port
    // and receive the service's datagrams, so UDP listeners never set it.
    bool ok = type == SOCK_DGRAM || set_flag(fd, SOL_SOCKET, SO_REUSEADDR, 1) == 0;
    if (ok && o.reuse_port) ok = set_flag(fd, SOL_SOCKET, SO_REUSEPORT, 1) == 0;
    if (ok && addr->family() == AF_INET6) {
        bool v6only = o.v6only.value_or(!ep.any);
        ok = set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY, v6only ? 1 : 0) == 0;
    }
    if (!ok) {
        int err = errno;
        owned.reset();
        return fail(err, error, listen, "set socket options for");
    }
    if (sys::bind(fd, addr->get(), addr->length) != 0) {
        int err = errno;
        owned.reset();
        return fail(err, error, listen, "bind");
    }
    if (type == SOCK_STREAM && sys::listen(fd, o.backlog) != 0) {
        int err = errno;
        owned.reset();
        return fail(err, error, listen, "listen on");
    }
    out.fd = owned.release();
    return 0;
}

SockAddr local_address(int fd) {
    SockAddr a;
    a.length = sizeof a.storage;
    if (::getsockname(fd, a.get(), &a.length) != 0) a.length = 0;
    return a;
}

void apply_accepted_options(int fd, const SocketOptions& options, Transport transport) {
    if (transport != Transport::tcp) return;
    if (options.nodelay) (void)set_flag(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (options.keepalive) (void)set_flag(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
}

}  // namespace sb::net
