// Binding listening sockets by hand, outside libuv, so every option
// (SO_REUSEPORT, IPV6_V6ONLY, backlog, UNIX file mode and owner) is ours to
// set and the fd can be adopted by the loop, kept across reloads, or handed
// to a child.
#pragma once

#include <sys/types.h>

#include <string>

#include "switchboard/net/listen.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::net {

// A UNIX socket file this process created, and its identity when created,
// so that it is never removed once another process has put its own there.
struct SocketFile {
    std::string path;  // empty: none (abstract, or not UNIX)
    dev_t dev = 0;
    ino_t ino = 0;
};

struct BoundSocket {
    int fd = -1;
    bool created_file = false;  // a UNIX socket file we created (and must remove on exit)
    SocketFile file;            // set when created_file
};

// Removes `file` if it is still the one that was created (same device and
// inode). Every listener that created a socket file removes it this way.
void remove_socket_file(const SocketFile& file);

// Creates, configures, binds and (for streams) listens. Every fd is
// SOCK_NONBLOCK | SOCK_CLOEXEC. On failure returns a negative errno and
// sets `error` to a sentence naming the address.
// A UNIX socket path that exists is replaced only when it is a socket that
// nothing answers on (a stale file); missing parent directories are created.
[[nodiscard]] int bind_listener(const Listen& listen, BoundSocket& out, std::string& error);

// The local address of a bound or connected socket.
[[nodiscard]] SockAddr local_address(int fd);

// Per-connection options for an accepted TCP socket.
void apply_accepted_options(int fd, const SocketOptions& options, Transport transport);

}  // namespace sb::net
