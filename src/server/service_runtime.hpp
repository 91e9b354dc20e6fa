// ServiceRuntime: a configured service while it runs — its current
// definition, its listeners, its admission state, its counters.
//
// Owned by the Server's service table through a shared_ptr; each connection
// record holds one too, so a service removed by a reload lives on, counting,
// until its last connection has drained.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/admission.hpp"
#include "server/reject_reason.hpp"
#include "server/snapshot.hpp"
#include "services/kind.hpp"
#include "switchboard/config.hpp"

namespace sb::server {

class Listener;

struct ServiceRuntime {
    std::shared_ptr<const config::Service> definition;  // what new connections get
    std::shared_ptr<const services::ServiceKind> kind;  // chosen from it by apply(); never null
    std::vector<Listener*> listeners;
    ServiceCounters counters;
    // Counts (open connections, live children), rate buckets, per-source table.
    ServiceAdmission admission;
    bool disabled = false;       // not accepting: enabled: false in the config, or ctl disable
    bool removed = false;        // gone from the config; draining
    std::uint64_t drain_deadline = 0;  // uv_now() after which leftovers are stopped

    [[nodiscard]] const std::string& name() const { return definition->name; }
    [[nodiscard]] std::uint32_t active() const { return admission.active(); }
    [[nodiscard]] std::uint32_t children() const { return admission.children(); }
};

}  // namespace sb::server
