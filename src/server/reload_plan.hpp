// ReloadPlan: the difference between the running configuration and the next
// one, computed without touching anything. Server::apply carries it out.
//
// Listeners are matched by address: the same address keeps its socket (the
// same fd, so no connection is refused during a reload), taking backlog and
// UNIX mode/owner changes in place. Options that only bind() can set
// (reuse_port, v6only) cannot change under a live socket: that is a conflict,
// and the whole reload fails.
#pragma once

#include <string>
#include <vector>

#include "switchboard/config.hpp"

namespace sb::server {

struct ReloadPlan {
    // Services, by name.
    std::vector<std::string> added, changed, kept, removed;
    // Listeners, by canonical address.
    std::vector<config::Listen> bind;       // new sockets to bind
    std::vector<std::string> keep;          // same socket, unchanged
    std::vector<config::Listen> update;     // same socket, options changed in place
    std::vector<std::string> close;         // sockets no service wants any more
    std::vector<std::string> conflicts;     // errors: the reload must not proceed

    [[nodiscard]] bool ok() const { return conflicts.empty(); }
};

// `current` is the running configuration (empty before the first start).
ReloadPlan plan_reload(const config::Config& current, const config::Config& next);

}  // namespace sb::server
