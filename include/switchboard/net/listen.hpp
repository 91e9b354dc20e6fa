// A listening socket as net/ binds it: its endpoint and the options that
// belong to its identity. net/ owns these structs; config/ fills them from
// the configuration (config::Listen is this type).
#pragma once

#include <sys/types.h>

#include <optional>

#include "switchboard/net/endpoint.hpp"

namespace sb::net {

// Socket options that belong to a listener's identity: a reload keeps a
// listener (same fd) only when its endpoint and these options are unchanged.
struct SocketOptions {
    // Linux's SOMAXCONN since 5.4 and systemd's default: a burst of
    // connects waits in the kernel instead of having its SYNs dropped (each
    // drop costs the client a one-second retransmit). The kernel caps it at
    // net.core.somaxconn.
    int backlog = 4096;
    bool reuse_port = false;
    std::optional<bool> v6only;  // unset: dual-stack for "*", kernel default otherwise
    bool nodelay = true;         // TCP_NODELAY on accepted connections
    bool keepalive = false;      // SO_KEEPALIVE on accepted connections
    // UNIX sockets only: file mode and ownership of the socket file.
    mode_t mode = 0666;
    std::optional<uid_t> owner;
    std::optional<gid_t> group;

    friend bool operator==(const SocketOptions&, const SocketOptions&) = default;
};

struct Listen {
    net::Endpoint endpoint;
    SocketOptions options;

    friend bool operator==(const Listen&, const Listen&) = default;
};

}  // namespace sb::net
