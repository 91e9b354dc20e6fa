// Request parsing and reply rendering for the control protocol (see
// protocol.hpp). Replies are rendered with invalid UTF-8 replaced, so a
// strange byte in a peer name or a config error can never make a reply fail.
#include "control/protocol.hpp"

#include <array>

#include <nlohmann/json.hpp>

#include "net/quote.hpp"
#include "server/server_control.hpp"

namespace sb::control {
namespace {

using nlohmann::json;

constexpr std::array k_commands = {
    std::pair{Command::status, std::string_view{"status"}},
    std::pair{Command::services, std::string_view{"services"}},
    std::pair{Command::connections, std::string_view{"connections"}},
    std::pair{Command::reload, std::string_view{"reload"}},
    std::pair{Command::enable, std::string_view{"enable"}},
    std::pair{Command::disable, std::string_view{"disable"}},
    std::pair{Command::drain, std::string_view{"drain"}},
    std::pair{Command::metrics, std::string_view{"metrics"}},
};

// A request is a flat object; anything nested deeper is refused before the
// parser builds it.
constexpr int k_max_depth = 4;

bool nested_too_deeply(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > k_max_depth) return true;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return false;
}

std::string line(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

ParsedRequest fail(std::string message) {
    ParsedRequest out;
    out.error = std::move(message);
    return out;
}

}  // namespace

std::string_view command_name(Command command) {
    for (const auto& [c, name] : k_commands) {
        if (c == command) return name;
    }
    return "?";
}

std::optional<Command> command_from_name(std::string_view name) {
    for (const auto& [c, n] : k_commands) {
        if (n == name) return c;
    }
    return std::nullopt;
}

bool takes_service(Command command) { return command == Command::enable || command == Command::disable; }

bool changes_state(Command command) {
    switch (command) {
        case Command::status:
        case Command::services:
        case Command::connections:
        case Command::metrics: return false;
        case Command::reload:
        case Command::enable:
        case Command::disable:
        case Command::drain: return true;
    }
    return true;
}

std::string command_list() {
    std::string out;
    for (const auto& [c, name] : k_commands) {
        if (!out.empty()) out += ", ";
        out += name;
    }
    return out;
}

ParsedRequest parse_request(std::string_view text) {
    if (text.size() > k_max_request) {
        return fail("request too large: the limit is " + std::to_string(k_max_request) + " bytes per line");
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) return fail("empty request");
    if (nested_too_deeply(text)) return fail("malformed request: nested too deeply");
    json j = json::parse(text.begin(), text.end(), nullptr, false);
    if (j.is_discarded()) return fail("malformed request: not valid JSON");
    if (!j.is_object()) return fail("malformed request: expected a JSON object like {\"command\":\"status\"}");
    Request request;
    bool have_command = false;
    bool have_service = false;
    for (const auto& [key, value] : j.items()) {
        if (key == "command") {
            if (!value.is_string()) return fail("\"command\" must be a string");
            auto c = command_from_name(value.get_ref<const std::string&>());
            if (!c) {
                return fail("unknown command " + net::quote(value.get_ref<const std::string&>()) +
                            "; expected one of " + command_list());
            }
            request.command = *c;
            have_command = true;
        } else if (key == "service") {
            if (!value.is_string()) return fail("\"service\" must be a string");
            request.service = value.get<std::string>();
            have_service = true;
        } else if (key == "token") {
            if (!value.is_string()) return fail("\"token\" must be a string");
            request.token = value.get<std::string>();
        } else {
            return fail("unknown key " + net::quote(key) + "; a request has \"command\", for enable and "
                        "disable \"service\", and optionally \"token\"");
        }
    }
    if (!have_command) return fail("missing \"command\"");
    std::string_view name = command_name(request.command);
    if (takes_service(request.command) && (!have_service || request.service.empty())) {
        return fail(std::string(name) + " needs a \"service\"");
    }
    if (!takes_service(request.command) && have_service) {
        return fail(std::string(name) + " takes no \"service\"");
    }
    ParsedRequest out;
    out.request = std::move(request);
    return out;
}

std::string render_request(const Request& request) {
    json j = {{"command", command_name(request.command)}};
    if (takes_service(request.command)) j["service"] = request.service;
    if (!request.token.empty()) j["token"] = request.token;
    return line(j);
}

std::string reply_error(std::string_view message) { return line({{"ok", false}, {"error", message}}); }

std::string reply_status(const StatusView& s) {
    return line({{"ok", true},
                 {"version", s.version},
                 {"pid", s.pid},
                 {"uptime", s.uptime_seconds},
                 {"config", s.config_file},
                 {"generation", s.generation},
                 {"connections", s.connections},
                 {"children", s.children},
                 {"services", s.services},
                 {"stopping", s.stopping},
                 {"accept_failures", s.accept_failures},
                 {"fd_budget", {{"pauses", s.fd_budget_pauses}, {"paused", s.fd_budget_paused}}},
                 {"reloads", {{"succeeded", s.reloads.succeeded},
                              {"failed", s.reloads.failed},
                              {"last_ok", s.reloads.last_ok},
                              {"last_milliseconds", s.reloads.last_milliseconds}}}});
}

std::string reply_services(const std::vector<ServiceView>& services) {
    json list = json::array();
    for (const ServiceView& v : services) {
        json rejected_by = json::object();
        for (std::size_t r = 0; r < server::k_reject_reasons; ++r) {
            rejected_by[std::string(server::reject_reason_name(static_cast<server::RejectReason>(r)))] =
                v.counters.rejected[r];
        }
        const auto& c = v.counters;
        list.push_back({{"name", v.name},
                        {"kind", v.kind},
                        {"action", v.action},
                        {"listeners", v.listeners},
                        {"state", v.state},
                        {"active", v.active},
                        {"accepted", c.accepted},
                        {"rejected", c.rejected_total()},
                        {"rejected_by", std::move(rejected_by)},
                        {"spawned", c.spawned},
                        {"spawn_failures", c.spawn_failures},
                        {"forward_failures", c.forward_failures},
                        {"children", v.children},
                        {"exits", {{"ok", c.exits_ok}, {"failed", c.exits_failed}}},
                        {"bytes_in", c.bytes_in},
                        {"bytes_out", c.bytes_out},
                        {"datagrams_in", c.datagrams_in},
                        {"datagrams_out", c.datagrams_out}});
    }
    return line({{"ok", true}, {"services", std::move(list)}});
}

std::string reply_connections(const std::vector<ConnectionView>& connections) {
    json list = json::array();
    for (const ConnectionView& v : connections) {
        list.push_back({{"id", v.id},
                        {"service", v.service},
                        {"peer", v.peer},
                        {"age", v.age_seconds},
                        {"bytes_in", v.bytes_in},
                        {"bytes_out", v.bytes_out},
                        {"pid", v.pid == 0 ? json(nullptr) : json(static_cast<long>(v.pid))},
                        {"upstream", v.upstream.empty() ? json(nullptr) : json(v.upstream)}});
    }
    return line({{"ok", true}, {"connections", std::move(list)}});
}

std::string reply_reload(const server::ApplyReport& report, std::uint64_t generation) {
    if (!report.ok()) {
        std::string summary = report.errors.size() == 1 ? "1 error" : std::to_string(report.errors.size()) + " errors";
        return line({{"ok", false},
                     {"error", "reload failed with " + summary + "; the running configuration is unchanged"},
                     {"errors", report.errors}});
    }
    return line({{"ok", true},
                 {"generation", generation},
                 {"added", report.added},
                 {"changed", report.changed},
                 {"removed", report.removed},
                 {"kept", report.kept},
                 {"milliseconds", report.milliseconds}});
}

std::string reply_switched(std::string_view service, bool enabled) {
    return line({{"ok", true}, {"service", service}, {"state", enabled ? "enabled" : "disabled"}});
}

std::string reply_drain(std::uint64_t connections) {
    return line({{"ok", true}, {"state", "draining"}, {"connections", connections}});
}

std::string reply_metrics(std::string_view text) { return line({{"ok", true}, {"metrics", text}}); }

}  // namespace sb::control
