// Rules for UNIX socket paths that protect the socket from other local
// users: its directory must be one that no other user can change, and an
// abstract socket (which has no file, so no mode) must not pretend to have
// a mode or owner.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

namespace {

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

// The directory a socket file would be created in, or its nearest existing
// ancestor when the server would create the missing ones (whoever may
// write there could create them first). Empty when nothing exists.
std::string existing_parent(const std::string& path, struct stat& st) {
    std::string dir = path;
    for (;;) {
        auto slash = dir.rfind('/');
        if (slash == std::string::npos) return {};
        dir.resize(slash == 0 ? 1 : slash);
        if (::stat(dir.c_str(), &st) == 0) return dir;
        if (dir == "/") return {};
    }
}

}  // namespace

void check_socket_directory(const Node& node, const std::string& path, const LoadContext& context) {
    if (!context.options.check_system || path.empty() || path.front() != '/') return;
    struct stat st {};
    std::string dir = existing_parent(path, st);
    if (dir.empty() || !S_ISDIR(st.st_mode)) return;  // binding reports it
    const std::string where = "the directory " + dir + " of the UNIX socket " + path;
    if (st.st_uid != 0 && st.st_uid != ::geteuid()) {
        node.error(where + " is owned by uid " + std::to_string(st.st_uid) +
                   ", who could replace the socket; use a directory owned by root (or by the server's user)");
    } else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
        node.error(where + " is writable by other users (mode " + octal_mode(st.st_mode) +
                   ", no sticky bit), who could replace the socket; make it 0755, or sticky like /tmp");
    }
}

void check_abstract_socket_options(const Node& socket, const std::vector<Listen>& listen) {
    const Listen* abstract = nullptr;
    for (const Listen& l : listen) {
        if (l.endpoint.transport == net::Transport::unix_stream && l.endpoint.abstract) abstract = &l;
    }
    if (abstract == nullptr || !socket.is_object()) return;
    for (std::string_view key : {"mode", "owner", "group"}) {
        if (!socket.json().contains(key)) continue;
        socket.child(std::string(key))
            .key_error("socket " + std::string(key) + " has no effect on the abstract socket " +
                       abstract->endpoint.to_string() +
                       ": it has no file, so any local user can connect; restrict it with peer_uids or peer_gids");
    }
}

}  // namespace sb::config
