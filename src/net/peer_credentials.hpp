// The credentials of the process at the other end of a UNIX socket, as
// SO_PEERCRED (and SO_PEERGROUPS) describe them. The one place that asks
// the kernel: admission, the exec environment and the control socket all
// read them here.
#pragma once

#include <sys/types.h>

#include <optional>
#include <vector>

namespace sb::net {

struct PeerCredentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary groups, read only when asked for
    pid_t pid = 0;
};

// Reads the credentials of the peer of the UNIX socket `fd`; nullopt if the
// kernel will not say (not a UNIX socket, or no peer). `with_groups` adds
// SO_PEERGROUPS.
[[nodiscard]] std::optional<PeerCredentials> peer_credentials(int fd, bool with_groups = false);

}  // namespace sb::net
