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

// mkdir -p for the directory part of `path` (mode 0755).
void make_parents(const std::string& path) {
    for (std::size_t pos = 1; (pos = path.find('/', pos)) != std::string::npos; ++pos) {
        std::string dir = path.substr(0, pos);
        ::mkdir(dir.c_str(), 0755);
    }
}

// Removes `path` when it is a socket file no one listens on. Returns 0 when
// the path is free to bind, or a negative errno explaining why not.
//
// The probe connects without blocking: a listener whose backlog is full
// would otherwise hold the caller (the loop, during a reload) until it
// accepts. EAGAIN, like a connection made or in progress, means someone
// listens; only ECONNREFUSED means the file is stale.
int clear_stale_unix_path(const std::string& path, std::string& why) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    if (!S_ISSOCK(st.st_mode)) {
        why = "exists and is not a socket";
        return -EEXIST;
    }
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!probe) return -errno;
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, path.c_str(), path.size());
    int rc = ::connect(probe.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    int err = errno;
    probe.reset();
    if (rc == 0 || err == EAGAIN || err == EINPROGRESS) {
        why = "is in use by a running server";
        return -EADDRINUSE;
    }
    if (err != ECONNREFUSED) {
        return -err;
    }
    return ::unlink(path.c_str()) == 0 || errno == ENOENT ? 0 : -errno;
}

int bind_unix(const Listen& listen, BoundSocket& out, std::string& error) {
    const auto& ep = listen.endpoint;
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (ep.host.size() + 1 > sizeof sun.sun_path) {
        return fail(ENAMETOOLONG, error, listen, "bind");
    }
    socklen_t len = 0;
    if (ep.abstract) {
        sun.sun_path[0] = '\0';
        std::memcpy(sun.sun_path + 1, ep.host.data(), ep.host.size());
        len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + ep.host.size());
    } else {
        std::memcpy(sun.sun_path, ep.host.data(), ep.host.size());
        len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + ep.host.size() + 1);
        make_parents(ep.host);
        std::string why;
        if (int rc = clear_stale_unix_path(ep.host, why); rc < 0) {
            error = "cannot bind " + ep.to_string() + ": " + (why.empty() ? std::strerror(-rc) : why);
            return rc;
        }
    }
    Fd owned(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int fd = owned.get();
    if (fd < 0) return fail(errno, error, listen, "create a socket for");
    if (sys::bind(fd, reinterpret_cast<sockaddr*>(&sun), len) != 0) {
        int err = errno;
        owned.reset();
        return fail(err, error, listen, "bind");
    }
    if (!ep.abstract) {
        out.created_file = true;
        struct stat st{};
        if (::lstat(ep.host.c_str(), &st) == 0) out.file = SocketFile{ep.host, st.st_dev, st.st_ino};
        const auto& o = listen.options;
        if (::chmod(ep.host.c_str(), o.mode) != 0 ||
            ((o.owner || o.group) && ::chown(ep.host.c_str(), o.owner.value_or(static_cast<uid_t>(-1)),
                                             o.group.value_or(static_cast<gid_t>(-1))) != 0)) {
            int err = errno;
            owned.reset();
            ::unlink(ep.host.c_str());
            return fail(err, error, listen, "set mode/owner of");
        }
    }
    if (sys::listen(fd, listen.options.backlog) != 0) {
        int err = errno;
        owned.reset();
        if (out.created_file) ::unlink(ep.host.c_str());
        return fail(err, error, listen, "listen on");
    }
    out.fd = owned.release();
    return 0;
}

}  // namespace

void remove_socket_file(const SocketFile& file) {
    if (file.path.empty()) return;
    struct stat st{};
    if (::lstat(file.path.c_str(), &st) == 0 && st.st_dev == file.dev && st.st_ino == file.ino) {
        ::unlink(file.path.c_str());
    }
}

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
