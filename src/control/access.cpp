// Control roles and the token check (see access.hpp).
#include "control/access.hpp"

#include <sys/socket.h>

#include <algorithm>

#include "net/peer_credentials.hpp"

namespace sb::control {

ControlPeer ControlPeer::of(int fd) {
    ControlPeer peer;
    net::SockAddr addr;
    addr.length = sizeof addr.storage;
    if (::getpeername(fd, addr.get(), &addr.length) == 0) peer.address = addr.to_string();
    if (addr.family() == AF_UNIX) {
        if (auto cred = net::peer_credentials(fd, true)) {
            peer.uid = cred->uid;
            peer.gid = cred->gid;
            peer.groups = std::move(cred->groups);
            peer.pid = cred->pid;
        }
    } else {
        peer.tcp = true;  // or unknown: either way, no uid to trust
    }
    return peer;
}

std::string ControlPeer::source() const {
    if (tcp) {
        // "127.0.0.1:40000" or "[::1]:40000": everything before the last colon.
        auto colon = address.rfind(':');
        return colon == std::string::npos ? address : address.substr(0, colon);
    }
    return uid ? "uid " + std::to_string(*uid) : std::string("an unknown uid");
}

AccessPolicy AccessPolicy::from(const config::Control& control, uid_t server_uid) {
    AccessPolicy policy;
    policy.server_uid = server_uid;
    policy.admin_group = control.admin_group;
    policy.token = control.token;
    return policy;
}

bool is_privileged(const ControlPeer& peer, const AccessPolicy& policy) {
    return !peer.tcp && peer.uid && (*peer.uid == 0 || *peer.uid == policy.server_uid);
}

namespace {

bool in_admin_group(const ControlPeer& peer, const AccessPolicy& policy) {
    if (peer.tcp || !peer.uid || !policy.admin_group) return false;
    gid_t admin = *policy.admin_group;
    return peer.gid == admin || std::find(peer.groups.begin(), peer.groups.end(), admin) != peer.groups.end();
}

}  // namespace

std::string refusal(const Request& request, const ControlPeer& peer, const AccessPolicy& policy) {
    if (!request.token.empty()) {
        if (policy.token.empty()) return "permission denied: this server has no control.token_file; send no token";
        if (!tokens_equal(request.token, policy.token)) return "permission denied: wrong token";
        return {};
    }
    if (!changes_state(request.command)) return {};
    if (is_privileged(peer, policy) || in_admin_group(peer, policy)) return {};
    std::string what = "permission denied: '" + std::string(command_name(request.command)) + "' needs admin";
    if (peer.tcp) {
        return what + (policy.token.empty()
                           ? "; over TCP that takes a token, and this server has no control.token_file"
                           : "; over TCP send the token from control.token_file (switchboard ctl -c CONFIG does)");
    }
    what += " (root, uid " + std::to_string(policy.server_uid);
    if (policy.admin_group) what += " or group " + std::to_string(*policy.admin_group);
    return what + "); you are " + peer.source();
}

bool tokens_equal(std::string_view given, std::string_view expected) {
    // Every byte of `expected` is looked at whatever `given` holds; the
    // length difference is folded into the result rather than returned early.
    unsigned char diff = given.size() == expected.size() ? 0 : 1;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= static_cast<unsigned char>(g ^ static_cast<unsigned char>(expected[i]));
    }
    return diff == 0;
}

}  // namespace sb::control
