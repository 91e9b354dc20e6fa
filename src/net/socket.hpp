// Binding listening sockets by hand, outside libuv, so every option
// (SO_REUSEPORT, IPV6_V6ONLY, backlog, UNIX file mode and owner) is ours to
// set and the fd can be adopted by the loop, kept across reloads, or handed
// to a child.
#pragma once

#include <sys/types.h>

#include <string>

#include "net/socket_file.hpp"
#include "switchboard/net/listen.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::net {

struct BoundSocket {
    int fd = -1;
    bool created_file = false;  // a UNIX socket file we created (and must remove on exit)
    SocketFile file;            // set when created_file
};

// Creates, configures, binds and (for streams) listens. Every fd is
// SOCK_NONBLOCK | SOCK_CLOEXEC. On failure returns a negative errno and
// sets `error` to a sentence naming the address.
// A UNIX socket file is made by bind_socket_file (net/socket_file.hpp):
// its directory must be safe, a stale socket file is replaced, missing
// parent directories are created, and the configured mode and owner hold
// before it listens.
[[nodiscard]] int bind_listener(const Listen& listen, BoundSocket& out, std::string& error);

// The local address of a bound or connected socket.
[[nodiscard]] SockAddr local_address(int fd);

// Per-connection options for an accepted TCP socket.
void apply_accepted_options(int fd, const SocketOptions& options, Transport transport);

}  // namespace sb::net
