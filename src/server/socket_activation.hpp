// PassedSockets: the listening sockets a service manager handed over at
// start (systemd's LISTEN_FDS protocol, sd_listen_fds(3)): fds 3..3+N-1 when
// LISTEN_PID is this process, named by LISTEN_FDNAMES.
//
// The server adopts them instead of binding (DESIGN.md §6, §8): a configured
// listener takes the passed socket of the same kind (family and SO_TYPE)
// bound to the same address (getsockname), as a duplicate. A socket whose
// LISTEN_FDNAMES name (FileDescriptorName=) is the name of a configured
// service is that service's alone: only its listener of the same address
// takes it, and if it has none, nobody does and the log says why. The originals
// stay here, open and unwatched, for the life of the process, so a reload
// that drops a service closes only its duplicate: the socket systemd owns
// keeps its address, and a reload that brings the service back adopts it
// again instead of failing to bind over it.
//
// Owned by the Server. Loop thread only (from_environment() before the
// loop runs).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "net/socket.hpp"
#include "switchboard/fd.hpp"

namespace sb::server {

struct PassedSocket {
    Fd fd;
    std::string name;     // from LISTEN_FDNAMES ("" when not given)
    std::string address;  // what it is bound to, in Endpoint::to_string() spelling ("" if unknown)
    bool adopted = false; // some listener took a duplicate of it
};

class PassedSockets {
public:
    PassedSockets() = default;

    // Reads LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES and unsets all three,
    // so no child ever sees them. The fds are taken (made CLOEXEC) only when
    // LISTEN_PID is this process. `problem` says what was wrong with them,
    // if anything (logged by the caller).
    static PassedSockets from_environment(std::string& problem);
    // The same for the fds `first`..`first + count - 1` (tests).
    static PassedSockets from_fds(int first, int count, const std::vector<std::string>& names);

    // The services of the configuration about to be applied, each with
    // the passed_key() of its listeners: names in LISTEN_FDNAMES are
    // matched against them.
    void expect_services(std::map<std::string, std::vector<std::string>> listeners_by_service);

    // A duplicate (non-blocking, CLOEXEC) of the passed socket that fits
    // `listen` of `service` ("" for a listener of no service), in `out`;
    // false when none does (then bind as usual).
    [[nodiscard]] bool take(const net::Listen& listen, std::string_view service, net::BoundSocket& out);

    // True when a passed socket (kept open here) is bound to `listen`'s
    // address: no other socket can take that address while we run, and the
    // listener holds a duplicate of a socket the service manager keeps,
    // which must never be shut down.
    [[nodiscard]] bool holds(const net::Listen& listen) const;

    // Logs the sockets no listener took; closes them and forgets them.
    void close_unadopted();

    [[nodiscard]] const std::vector<PassedSocket>& sockets() const { return sockets_; }
    [[nodiscard]] bool empty() const { return sockets_.empty(); }

private:
    std::vector<PassedSocket> sockets_;
    std::map<std::string, std::vector<std::string>> services_;  // from expect_services()
};

// The address `listen` binds, in the spelling PassedSocket::address uses,
// with its kind: "tcp://127.0.0.1:7", "udp://[::]:7", "unix:/path".
std::string passed_key(const net::Listen& listen);

}  // namespace sb::server
