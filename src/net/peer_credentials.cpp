// SO_PEERCRED and SO_PEERGROUPS (see peer_credentials.hpp).
#include "net/peer_credentials.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sb::net {

std::optional<PeerCredentials> peer_credentials(int fd, bool with_groups) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred) return std::nullopt;
    PeerCredentials out;
    out.uid = cred.uid;
    out.gid = cred.gid;
    out.pid = cred.pid;
    if (with_groups) {
        // SO_PEERGROUPS says how much room it needs when given too little.
        std::vector<gid_t> groups(32);
        for (int attempt = 0; attempt < 2; ++attempt) {
            auto size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
            if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
                groups.resize(size / sizeof(gid_t));
                out.groups = std::move(groups);  // only a full answer: never zero-filled room
                break;
            }
            if (errno != ERANGE) break;
            groups.resize(size / sizeof(gid_t) + 1);
        }
    }
    return out;
}

}  // namespace sb::net
