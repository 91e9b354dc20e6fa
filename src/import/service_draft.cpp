// ServiceDraft → the JSON object of one service, and the rules every
// imported service obeys whatever file it came from.
#include "import/service_draft.hpp"

#include <algorithm>

#include "net/quote.hpp"

namespace sb::import {

using nlohmann::json;

bool ServiceDraft::udp_only() const {
    return !listen.empty() &&
           std::all_of(listen.begin(), listen.end(), [](const std::string& l) { return l.starts_with("udp://"); });
}

bool is_builtin_name(std::string_view name) {
    return name == "echo" || name == "discard" || name == "chargen" || name == "daytime" || name == "time" ||
           name == "tcpmux";
}

void set_argv(ServiceDraft& draft, const std::string& program, const std::vector<std::string>& args_from_argv0,
              Report& report) {
    draft.argv = {program};
    if (args_from_argv0.empty()) return;
    draft.argv.insert(draft.argv.end(), args_from_argv0.begin() + 1, args_from_argv0.end());
    const std::string& argv0 = args_from_argv0.front();
    std::string base = program.substr(program.rfind('/') + 1);
    if (argv0 != base && argv0 != program) {
        report.unmapped(draft.origin.file, draft.origin.line,
                        "argv[0] " + net::quote(argv0) + " of " + program +
                            ": switchboard passes the program's path as argv[0]");
    }
}

void drop_wait_admission(ServiceDraft& draft, Report& report) {
    if (draft.builtin.size() > 0 || !draft.wait) return;
    const bool udp = draft.udp_only();
    auto drop = [&](bool present, const char* what, auto&& clear) {
        if (!present) return;
        report.unmapped(draft.origin.file, draft.origin.line,
                        std::string(what) + " has no equivalent for a wait service" +
                            (udp ? "" : " over a stream socket") + ": its program takes the connections itself; left out");
        clear();
    };
    drop(draft.max_connections.has_value(), "a limit on instances", [&] { draft.max_connections.reset(); });
    drop(draft.per_source.has_value(), "per_source", [&] { draft.per_source.reset(); });
    drop(!draft.banner.empty(), "banner", [&] { draft.banner.clear(); });
    drop(!draft.banner_success.empty(), "banner_success", [&] { draft.banner_success.clear(); });
    drop(!draft.banner_fail.empty(), "banner_fail", [&] { draft.banner_fail.clear(); });
    if (udp) return;  // over UDP allow, deny and rate are judged per datagram
    drop(draft.rate_per_second.has_value(), "a rate limit", [&] {
        draft.rate_per_second.reset();
        draft.rate_burst.reset();
    });
    drop(draft.allow.has_value() || draft.deny.has_value(), "an address restriction", [&] {
        draft.allow.reset();
        draft.deny.reset();
    });
}

namespace {

// Whole numbers are written without ".0".
json number(double value) {
    if (value == static_cast<double>(static_cast<std::int64_t>(value))) return static_cast<std::int64_t>(value);
    return value;
}

}  // namespace

json to_json(const ServiceDraft& d, bool with_listen) {
    json s = json::object();
    if (with_listen && (!d.listen.empty() || d.tcpmux.empty())) s["listen"] = d.listen;
    json socket = json::object();
    if (d.v6only) socket["v6only"] = *d.v6only;
    if (d.keepalive) socket["keepalive"] = *d.keepalive;
    if (!socket.empty()) s["socket"] = socket;

    if (!d.builtin.empty()) {
        s["builtin"] = d.builtin;
    } else if (!d.redirect_to.empty()) {
        s["redirect"] = {{"to", d.redirect_to}};
    } else {
        json exec = json::object();
        exec["argv"] = d.argv;
        if (!d.user.empty()) exec["user"] = d.user;
        if (!d.group.empty()) exec["group"] = d.group;
        if (d.wait) exec["wait"] = true;
        if (d.umask) exec["umask"] = *d.umask;
        if (d.nice) exec["nice"] = *d.nice;
        if (!d.rlimits.empty()) exec["rlimits"] = d.rlimits;
        if (!d.env.empty()) exec["env"] = d.env;
        if (!d.pass_env.empty()) exec["pass_env"] = d.pass_env;
        s["exec"] = exec;
    }
    if (!d.tcpmux.empty()) {
        s["tcpmux"] = d.tcpmux_plus ? json{{"name", d.tcpmux}, {"plus", true}} : json(d.tcpmux);
    }
    if (d.allow) s["allow"] = *d.allow;
    if (d.deny) s["deny"] = *d.deny;
    if (d.max_connections) s["max_connections"] = *d.max_connections;
    if (d.per_source) s["per_source"] = *d.per_source;
    if (d.rate_per_second) {
        json rate = {{"per_second", number(*d.rate_per_second)}};
        if (d.rate_burst) rate["burst"] = number(*d.rate_burst);
        s["rate"] = rate;
    }
    if (!d.banner.empty()) s["banner"] = {{"file", d.banner}};
    if (!d.banner_success.empty()) s["banner_success"] = {{"file", d.banner_success}};
    if (!d.banner_fail.empty()) s["banner_fail"] = {{"file", d.banner_fail}};
    if (!d.enabled) s["enabled"] = false;
    return s;
}

}  // namespace sb::import
