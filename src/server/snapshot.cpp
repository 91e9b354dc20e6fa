// Server snapshots (snapshot.hpp): the service table, the connection
// registry and the counts, copied into plain values.
#include <map>
#include <set>

#include "server/server.hpp"

namespace sb::server {
namespace {

ServiceSnapshot snapshot_of(const ServiceRuntime& runtime, bool server_stopping) {
    ServiceSnapshot v;
    v.name = runtime.name();
    services::KindDescription kind = runtime.kind->describe();
    v.kind = std::move(kind.kind);
    v.action = std::move(kind.action);
    // A removed service has no listeners of its own any more.
    if (!runtime.removed) {
        for (const auto& l : runtime.definition->listen) v.listeners.push_back(l.endpoint.to_string());
    }
    if (server_stopping || runtime.removed) {
        v.state = "draining";
    } else {
        v.state = runtime.disabled ? "disabled" : "enabled";
    }
    v.active = runtime.active();
    v.children = runtime.children();
    v.counters = runtime.counters;
    return v;
}

}  // namespace

StatusSnapshot Server::status_snapshot() const {
    StatusSnapshot s;
    s.uptime_seconds = static_cast<double>(uv_now(loop_) - started_at_) / 1000.0;
    s.config_file = config_.file;
    s.generation = generation_;
    s.connections = connections_.size();
    s.services = services_.size();
    std::set<const ServiceRuntime*> seen;
    for (const auto& [name, runtime] : services_) {
        s.children += runtime->children();
        seen.insert(runtime.get());
    }
    for (const Connection* c = connections_.front(); c != nullptr; c = c->next) {
        if (seen.insert(c->service.get()).second) s.children += c->service->children();
    }
    s.stopping = stopping_;
    s.accept_failures = accept_failures_;
    s.fd_budget_pauses = fd_budget_pauses_;
    s.fd_budget_paused = fd_paused_;
    return s;
}

std::vector<ServiceSnapshot> Server::service_snapshots() const {
    std::vector<ServiceSnapshot> out;
    std::map<const ServiceRuntime*, std::size_t> index;
    for (const auto& [name, runtime] : services_) {
        index[runtime.get()] = out.size();
        out.push_back(snapshot_of(*runtime, stopping_));
    }
    // Removed services live on through their connections until those drain.
    std::map<std::string, const ServiceRuntime*> draining;
    for (const Connection* c = connections_.front(); c != nullptr; c = c->next) {
        if (index.count(c->service.get()) == 0) draining.emplace(c->service->name(), c->service.get());
    }
    for (const auto& [name, runtime] : draining) {
        index[runtime] = out.size();
        out.push_back(snapshot_of(*runtime, stopping_));
    }
    for (const Connection* c = connections_.front(); c != nullptr; c = c->next) {
        ServiceSnapshot& v = out[index[c->service.get()]];
        v.counters.bytes_in += c->session->bytes_in();
        v.counters.bytes_out += c->session->bytes_out();
    }
    return out;
}

std::vector<ConnectionSnapshot> Server::connection_snapshots() const {
    std::vector<ConnectionSnapshot> out;
    out.reserve(connections_.size());
    std::uint64_t now = uv_now(loop_);
    for (const Connection* c = connections_.front(); c != nullptr; c = c->next) {
        ConnectionSnapshot v;
        v.id = c->id;
        v.service = c->service->name();
        v.peer = c->peer.to_string();
        v.age_seconds = static_cast<double>(now - c->started) / 1000.0;
        v.bytes_in = c->session->bytes_in();
        v.bytes_out = c->session->bytes_out();
        v.pid = c->session->child_pid();
        v.upstream = c->session->upstream();
        out.push_back(std::move(v));
    }
    return out;
}

}  // namespace sb::server
