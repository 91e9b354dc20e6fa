// The reload planner (see reload_plan.hpp).
#include "server/reload_plan.hpp"

#include <map>

namespace sb::server {
namespace {

// Every listener of a configuration by address, with the service that owns it.
std::map<std::string, std::pair<const config::Listen*, const std::string*>> listeners_of(const config::Config& c) {
    std::map<std::string, std::pair<const config::Listen*, const std::string*>> out;
    for (const auto& [name, service] : c.services) {
        for (const auto& l : service.listen) out.emplace(l.endpoint.to_string(), std::pair{&l, &name});
    }
    return out;
}

bool same_bind_options(const config::SocketOptions& a, const config::SocketOptions& b) {
    return a.reuse_port == b.reuse_port && a.v6only == b.v6only;
}

}  // namespace

ReloadPlan plan_reload(const config::Config& current, const config::Config& next) {
    ReloadPlan plan;
    for (const auto& [name, service] : next.services) {
        auto it = current.services.find(name);
        if (it == current.services.end()) {
            plan.added.push_back(name);
        } else {
            (it->second == service ? plan.kept : plan.changed).push_back(name);
        }
    }
    for (const auto& [name, service] : current.services) {
        if (next.services.count(name) == 0) plan.removed.push_back(name);
    }

    auto before = listeners_of(current);
    auto after = listeners_of(next);
    for (const auto& [key, entry] : after) {
        const config::Listen& l = *entry.first;
        auto it = before.find(key);
        if (it == before.end()) {
            plan.bind.push_back(l);
        } else if (!same_bind_options(it->second.first->options, l.options)) {
            plan.conflicts.push_back("service " + *entry.second + ": cannot change reuse_port or v6only of " + key +
                                     " while it is listening; remove it in one reload and add it back in the next");
        } else if (*it->second.first == l) {
            plan.keep.push_back(key);
        } else {
            plan.update.push_back(l);
        }
    }
    for (const auto& [key, entry] : before) {
        if (after.count(key) == 0) plan.close.push_back(key);
    }
    return plan;
}

}  // namespace sb::server
