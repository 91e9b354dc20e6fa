// The connections waiting in a listening stream socket's accept queue, as
// the kernel's sock_diag netlink interface (sock_diag(7)) lists them. TCP:
// told apart by their peers' addresses, established (or already closed by
// the peer) on the listener's address and port, and not yet accepted by any
// process (no inode). UNIX: told apart by the inode of each client's socket
// (unix_diag's UNIX_DIAG_ICONS). Used to see whether a wait-mode child took
// any of the connections that were waiting when it started.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace sb::net {

// "addr:port" of each peer waiting on the listening TCP socket `fd`, or
// "ino:N" of each client waiting on the listening UNIX stream socket `fd`;
// nothing for another kind of socket or when the kernel cannot be asked.
[[nodiscard]] std::optional<std::set<std::string>> waiting_peers(int fd);

// How many connections wait on the listening TCP socket `fd` (TCP_INFO: a
// microsecond, where listing them walks the kernel's whole established
// table, about 1.5 ms); nothing for another kind of socket.
[[nodiscard]] std::optional<std::uint32_t> accept_queue_length(int fd);

}  // namespace sb::net
