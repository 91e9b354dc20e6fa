// ServiceRuntime: a configured service while it runs — its current
// definition, its listeners, its counters and its state.
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

#include "switchboard/config.hpp"

namespace sb::server {

class Listener;

enum class RejectReason : std::uint8_t {
    denied,           // allow/deny lists or peer credentials
    max_connections,  // per service or global, on_limit "reject"
    per_source,
    rate,
    max_children,
    fd_budget,
    reflection,       // UDP source that looks like reflection
    count_
};
inline constexpr std::size_t k_reject_reasons = static_cast<std::size_t>(RejectReason::count_);
std::string_view reject_reason_name(RejectReason reason);

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
    std::vector<Listener*> listeners;
    ServiceCounters counters;
    std::uint32_t active = 0;    // open connections (sessions)
    std::uint32_t children = 0;  // live children, counted until they exit
    bool disabled = false;       // not accepting: enabled: false in the config, or ctl disable
    bool removed = false;        // gone from the config; draining
    std::uint64_t drain_deadline = 0;  // uv_now() after which leftovers are stopped

    [[nodiscard]] const std::string& name() const { return definition->name; }
};

}  // namespace sb::server
