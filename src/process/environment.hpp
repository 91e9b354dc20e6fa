// The environment of an exec child (DESIGN.md §3): nothing of the server's
// but PATH and the names a service passes on, plus the connection's metadata
// in both the UCSPI and the systemd conventions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/config.hpp"

namespace sb::process {

// Metadata of the accepted connection, for the child's environment.
struct ConnectionInfo {
    enum class Proto : std::uint8_t { tcp, udp, unix_stream };
    Proto proto = Proto::tcp;
    std::string remote_ip;  // numeric; empty for UNIX peers
    std::uint16_t remote_port = 0;
    std::string local_ip;
    std::uint16_t local_port = 0;
    // UNIX peers (SO_PEERCRED), if known.
    std::optional<uid_t> peer_uid;
    std::optional<gid_t> peer_gid;
    std::optional<pid_t> peer_pid;
};

inline constexpr std::string_view k_default_path = "/usr/local/bin:/usr/bin:/bin";

// The environment of DESIGN.md §3, later entries overriding earlier ones:
//  1. PATH: the server's PATH, or k_default_path;
//  2. every name in `exec.pass_env` that the server's environment has,
//     except NOTIFY_SOCKET, WATCHDOG_* and LISTEN_* (systemd's messages to
//     the server itself);
//  3. `exec.env`;
//  4. connection metadata, when `connection` is given: PROTO=TCP|UDP|UNIX
//     always; REMOTE_ADDR/REMOTE_PORT (systemd) for TCP and UDP;
//     TCPREMOTEIP/TCPREMOTEPORT/TCPLOCALIP/TCPLOCALPORT (UCSPI) for TCP only;
//     UNIXREMOTEEUID/UNIXREMOTEEGID/UNIXREMOTEPID (ucspi-unix) for UNIX peers
//     whose credentials are known;
//  5. when `listen_fd_name` is non-empty (systemd-style wait child with one
//     socket at fd 3): LISTEN_FDS=1 and LISTEN_FDNAMES=<name>; LISTEN_PID
//     comes from SpawnRequest::set_listen_pid.
// `server_env` is the server's environment (environ when null).
std::vector<std::string> build_environment(const config::Exec& exec, const ConnectionInfo* connection,
                                           std::string_view listen_fd_name = {},
                                           const char* const* server_env = nullptr);

}  // namespace sb::process
