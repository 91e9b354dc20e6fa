// Rules for UNIX socket paths that protect the socket from other local
// users: its directory must be one that no other user can change, and an
// abstract socket (which has no file, so no mode) must not pretend to have
// a mode or owner.
#include "config/sections.hpp"
#include "net/quote.hpp"
#include "net/socket_file.hpp"

namespace sb::config {

void check_socket_directory(const Node& node, const std::string& path, const LoadContext& context) {
    if (!context.options.check_system) return;
    // The same rule binding applies again (net/socket_file.cpp), in case
    // the directory changed between the check and the bind.
    if (std::string problem = net::socket_directory_problem(path); !problem.empty()) node.error(problem);
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
