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
#include "services/kind.hpp"
#include "switchboard/config.hpp"

namespace sb::server {

class Listener;

struct ServiceCounters {
    std::uint64_t accepted = 0;
    std::array<std::uint64_t, k_reject_reasons> rejected{};
    std::uint64_t spawned = 0;
    std::uint64_t spawn_failures = 0;
    std::uint64_t exits_ok = 0;
    std::uint64_t exits_failed = 0;  // non-zero exit or killed by a signal
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t datagrams_in = 0;
    std::uint64_t datagrams_out = 0;

    [[nodiscard]] std::uint64_t rejected_total() const {
        std::uint64_t n = 0;
        for (auto r : rejected) n += r;
        return n;
    }
};

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
