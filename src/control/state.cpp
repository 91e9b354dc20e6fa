// Snapshots of the running server for the control socket (see state.hpp).
#include "control/state.hpp"

#include <unistd.h>

#include <map>
#include <set>

#include "log/log.hpp"
#include "server/server.hpp"

namespace sb::control {
namespace {

std::string state_of(const server::Server& server, const server::ServiceRuntime& runtime) {
    if (server.stopping() || runtime.removed) return "draining";
    return runtime.disabled ? "disabled" : "enabled";
}

ServiceView view_of(const server::Server& server, const server::ServiceRuntime& runtime) {
    const config::Service& def = *runtime.definition;
    ServiceView v;
    v.name = def.name;
    services::KindDescription kind = runtime.kind->describe();
    v.kind = std::move(kind.kind);
    v.action = std::move(kind.action);
    // A removed service has no listeners of its own any more.
    if (!runtime.removed) {
        for (const auto& l : def.listen) v.listeners.push_back(l.endpoint.to_string());
    }
    v.state = state_of(server, runtime);
    v.active = runtime.active();
    v.children = runtime.children();
    v.counters = runtime.counters;
    return v;
}

}  // namespace

StatusView snapshot_status(const server::Server& server, const ReloadHistory& reloads) {
    StatusView s;
    s.version = SWITCHBOARD_VERSION;
    s.pid = static_cast<long>(::getpid());
    s.uptime_seconds = static_cast<double>(uv_now(server.loop()) - server.started_at()) / 1000.0;
    s.config_file = server.config().file;
    s.generation = server.generation();
    s.connections = server.connections().size();
    s.services = server.services().size();
    std::set<const server::ServiceRuntime*> seen;
    for (const auto& [name, runtime] : server.services()) {
        s.children += runtime->children();
        seen.insert(runtime.get());
    }
    for (const server::Connection* c = server.connections().front(); c != nullptr; c = c->next) {
        if (seen.insert(c->service.get()).second) s.children += c->service->children();
    }
    s.stopping = server.stopping();
    s.reloads = reloads;
    return s;
}

std::vector<ServiceView> snapshot_services(const server::Server& server) {
    std::vector<ServiceView> out;
    std::map<const server::ServiceRuntime*, std::size_t> index;
    for (const auto& [name, runtime] : server.services()) {
        index[runtime.get()] = out.size();
        out.push_back(view_of(server, *runtime));
    }
    // Removed services live on through their connections until those drain.
    std::map<std::string, const server::ServiceRuntime*> draining;
    for (const server::Connection* c = server.connections().front(); c != nullptr; c = c->next) {
        if (index.count(c->service.get()) == 0) draining.emplace(c->service->name(), c->service.get());
    }
    for (const auto& [name, runtime] : draining) {
        index[runtime] = out.size();
        out.push_back(view_of(server, *runtime));
    }
    for (const server::Connection* c = server.connections().front(); c != nullptr; c = c->next) {
        ServiceView& v = out[index[c->service.get()]];
        v.counters.bytes_in += c->session->bytes_in();
        v.counters.bytes_out += c->session->bytes_out();
    }
    return out;
}

std::vector<ConnectionView> snapshot_connections(const server::Server& server) {
    std::vector<ConnectionView> out;
    out.reserve(server.connections().size());
    std::uint64_t now = uv_now(server.loop());
    for (const server::Connection* c = server.connections().front(); c != nullptr; c = c->next) {
        ConnectionView v;
        v.id = c->id;
        v.service = c->service->name();
        v.peer = c->peer.to_string();
        v.age_seconds = static_cast<double>(now - c->started) / 1000.0;
        v.bytes_in = c->session->bytes_in();
        v.bytes_out = c->session->bytes_out();
        v.pid = c->session->child_pid();
        out.push_back(std::move(v));
    }
    return out;
}

void log_state(const StatusView& s, const std::vector<ServiceView>& services) {
    log::info("state", {{"version", s.version}, {"pid", s.pid}, {"uptime", s.uptime_seconds},
                        {"config", s.config_file}, {"generation", s.generation}, {"connections", s.connections},
                        {"children", s.children}, {"services", s.services}, {"stopping", s.stopping},
                        {"reloads_ok", s.reloads.succeeded}, {"reloads_failed", s.reloads.failed}});
    for (const ServiceView& v : services) {
        std::string listeners;
        for (const auto& l : v.listeners) listeners += (listeners.empty() ? "" : ",") + l;
        log::info("state-service",
                  {{"service", v.name}, {"kind", v.kind}, {"action", v.action}, {"state", v.state},
                   {"listen", listeners.empty() ? std::string("-") : listeners}, {"active", v.active},
                   {"accepted", v.counters.accepted}, {"rejected", v.counters.rejected_total()},
                   {"spawned", v.counters.spawned}, {"children", v.children}, {"in", v.counters.bytes_in},
                   {"out", v.counters.bytes_out}});
    }
}

}  // namespace sb::control
