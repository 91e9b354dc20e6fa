// The connections waiting in a TCP listening socket's accept queue, told
// apart by their peers' addresses, as the kernel's sock_diag netlink
// interface (sock_diag(7)) lists them: established (or already closed by
// the peer) on the listener's address and port, and not yet accepted by
// any process (no inode). Used to see whether a wait-mode child took any
// of the connections that were waiting when it started.
#pragma once

#include <optional>
#include <set>
#include <string>

namespace sb::net {

// "addr:port" of each peer waiting on the listening TCP socket `fd`;
// nothing when the socket is not TCP or the kernel cannot be asked.
[[nodiscard]] std::optional<std::set<std::string>> waiting_peers(int fd);

}  // namespace sb::net
