// Binding listening sockets by hand, outside libuv, so every option
// (SO_REUSEPORT, IPV6_V6ONLY, backlog, UNIX file mode and owner) is ours to
// set and the fd can be adopted by the loop, kept across reloads, or handed
// to a child.
#pragma once

#include <string>

#include "switchboard/config.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::net {

struct BoundSocket {
    int fd = -1;
    bool created_file = false;  // a UNIX socket file we created (and must remove on exit)
};

// Creates, configures, binds and (for streams) listens. Every fd is
// SOCK_NONBLOCK | SOCK_CLOEXEC. On failure returns a negative errno and
// sets `error` to a sentence naming the address.
// A UNIX socket path that exists is replaced only when it is a socket that
// nothing answers on (a stale file); missing parent directories are created.
[[nodiscard]] int bind_listener(const config::Listen& listen, BoundSocket& out, std::string& error);

// The local address of a bound or connected socket.
[[nodiscard]] SockAddr local_address(int fd);

// Per-connection options for an accepted TCP socket.
void apply_accepted_options(int fd, const config::SocketOptions& options, Transport transport);

}  // namespace sb::net
