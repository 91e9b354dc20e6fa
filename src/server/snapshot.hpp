// Snapshots of the running server: plain values that server/ produces on
// the loop thread (Server::status_snapshot() and friends) for the parts
// that only look (control/: replies, metrics, the state dump). Nothing in
// them points back into the server.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "server/histogram.hpp"
#include "server/reject_reason.hpp"

namespace sb::server {

struct ServiceCounters {
    std::uint64_t accepted = 0;
    std::array<std::uint64_t, k_reject_reasons> rejected{};
    std::uint64_t spawned = 0;
    std::uint64_t spawn_failures = 0;
    std::uint64_t forward_failures = 0;  // redirect: the upstream could not be reached
    std::uint64_t exits_ok = 0;
    std::uint64_t exits_failed = 0;  // non-zero exit or killed by a signal
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t datagrams_in = 0;
    std::uint64_t datagrams_out = 0;
    Histogram<k_duration_bounds.size()> durations{k_duration_bounds};    // stream connections
    Histogram<k_spawn_bounds.size()> spawn_latency{k_spawn_bounds};      // children of connections

    [[nodiscard]] std::uint64_t rejected_total() const {
        std::uint64_t n = 0;
        for (auto r : rejected) n += r;
        return n;
    }
};

struct StatusSnapshot {
    double uptime_seconds = 0;
    std::string config_file;
    std::uint64_t generation = 0;
    std::uint64_t connections = 0;
    std::uint64_t children = 0;  // of configured services and of removed ones still draining
    std::uint64_t services = 0;
    bool stopping = false;
    // accept4 failures that paused accepting (EMFILE, ENFILE, ENOBUFS,
    // ENOMEM), and the fd budget's pauses: how often, and whether now.
    std::uint64_t accept_failures = 0;
    std::uint64_t fd_budget_pauses = 0;
    bool fd_budget_paused = false;
};

struct ServiceSnapshot {
    std::string name;
    std::string kind;    // "builtin" or "exec" (services::KindDescription)
    std::string action;  // "echo", or the program
    std::vector<std::string> listeners;
    std::string state;  // "enabled", "disabled" or "draining"
    std::uint32_t active = 0;
    std::uint32_t children = 0;
    // Byte counts include the connections still open, so they only grow.
    ServiceCounters counters;
};

struct ConnectionSnapshot {
    std::uint64_t id = 0;
    std::string service;
    std::string peer;
    double age_seconds = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    pid_t pid = 0;  // 0: no child
    std::string upstream;  // a forwarded connection's upstream address; empty otherwise
};

}  // namespace sb::server
