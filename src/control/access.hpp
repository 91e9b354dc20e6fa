// Who may do what on the control socket.
//
// Anyone who can connect may use the read-only commands (status, services,
// connections, metrics). The state-changing ones (reload, enable, disable,
// drain) need an admin: on the UNIX socket root, the server's own uid or a
// member of control.admin_group (by SO_PEERCRED's gid and SO_PEERGROUPS);
// on TCP, where a peer has no uid the server can trust, a request that
// carries control.token_file's token. A request that carries a wrong token
// is refused whatever it asks. Plain values and pure functions, any thread.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/protocol.hpp"
#include "switchboard/config.hpp"

namespace sb::control {

// Who is on the other end: the uid, gid, groups and pid from SO_PEERCRED
// and SO_PEERGROUPS on a UNIX socket, the address on TCP.
struct ControlPeer {
    std::string address;  // "unix" or "127.0.0.1:40000"
    bool tcp = false;
    std::optional<uid_t> uid;  // UNIX only, when the kernel said
    gid_t gid = 0;
    std::vector<gid_t> groups;
    pid_t pid = 0;

    // Reads the peer of the connected socket `fd`.
    static ControlPeer of(int fd);
    // What the per-peer connection bound counts by: "uid 1000" on UNIX,
    // the address without its port on TCP.
    [[nodiscard]] std::string source() const;
};

struct AccessPolicy {
    uid_t server_uid = 0;
    std::optional<gid_t> admin_group;
    std::string token;  // empty: none configured

    static AccessPolicy from(const config::Control& control, uid_t server_uid);
};

// Root or the server's own uid on the UNIX socket: always an admin, and the
// only peers that may use the connections kept in reserve.
[[nodiscard]] bool is_privileged(const ControlPeer& peer, const AccessPolicy& policy);

// Empty when `peer` may run `request`, else the error sentence to reply
// ("permission denied: 'disable' needs admin ...").
[[nodiscard]] std::string refusal(const Request& request, const ControlPeer& peer, const AccessPolicy& policy);

// Compares a token a client sent with the configured one in time that
// depends only on the configured token's length, not on where they differ.
[[nodiscard]] bool tokens_equal(std::string_view given, std::string_view expected);

}  // namespace sb::control
