// Applying xinetd's defaults and assignment operators.
#include "import/xinetd_attributes.hpp"

#include <algorithm>
#include <string_view>

namespace sb::import {

namespace {

constexpr std::string_view k_mapped[] = {
    "id",         "type",      "flags",        "disable",      "socket_type", "protocol",    "wait",
    "user",       "group",     "instances",    "nice",         "server",      "server_args", "only_from",
    "no_access",  "port",      "redirect",     "bind",         "interface",   "banner",      "banner_success",
    "banner_fail", "per_source", "cps",        "groups",       "umask",       "rlimit_as",   "rlimit_files",
    "rlimit_cpu", "env",       "passenv",      "v6only",       "enabled",     "disabled",
};

struct Unmapped {
    std::string_view name;
    std::string_view why;
};

constexpr Unmapped k_unmapped[] = {
    {"access_times", "switchboard serves at all times"},
    {"log_type", "switchboard logs every connection to its own log (stderr or log.file)"},
    {"log_on_success", "switchboard logs every connection with peer, duration, bytes and exit status"},
    {"log_on_failure", "switchboard logs every rejection with its reason"},
    {"libwrap", "switchboard has no TCP wrappers; use allow and deny"},
    {"max_load", "switchboard does not watch the load average"},
    {"rpc_version", "switchboard does not serve Sun RPC"},
    {"rpc_number", "switchboard does not serve Sun RPC"},
    {"deny_time", "switchboard has no SENSOR services"},
    {"mdns", "switchboard does not register services with mDNS"},
    {"rlimit_data", "switchboard sets nofile, nproc, as, cpu, core and fsize only"},
    {"rlimit_rss", "switchboard sets nofile, nproc, as, cpu, core and fsize only"},
    {"rlimit_stack", "switchboard sets nofile, nproc, as, cpu, core and fsize only"},
};

bool cumulative(const std::string& name) {
    return name == "only_from" || name == "no_access" || name == "log_on_success" || name == "log_on_failure" ||
           name == "passenv" || name == "env" || name == "log_type" || name == "disabled" || name == "enabled";
}

void apply(Attributes& into, const XinetdAttribute& a, bool defaults) {
    EffectiveAttribute& e = into[a.name];
    AssignOp op = (defaults && cumulative(a.name) && a.op == AssignOp::set) ? AssignOp::add : a.op;
    switch (op) {
        case AssignOp::set: e.values = a.values; break;
        case AssignOp::add: e.values.insert(e.values.end(), a.values.begin(), a.values.end()); break;
        case AssignOp::remove:
            std::erase_if(e.values, [&](const std::string& v) {
                return std::find(a.values.begin(), a.values.end(), v) != a.values.end();
            });
            break;
    }
    e.origin = a.origin;
    e.from_defaults = defaults;
}

}  // namespace

Attributes effective_attributes(const std::vector<const XinetdSection*>& defaults, const XinetdSection& service) {
    Attributes out;
    for (const XinetdSection* d : defaults) {
        for (const auto& a : d->attributes) apply(out, a, true);
    }
    for (const auto& a : service.attributes) apply(out, a, false);
    return out;
}

std::optional<std::string> unmapped_reason(const std::string& attribute) {
    for (const auto& u : k_unmapped) {
        if (u.name == attribute) return std::string(u.why);
    }
    if (std::find(std::begin(k_mapped), std::end(k_mapped), attribute) != std::end(k_mapped)) return std::nullopt;
    return std::string("unknown attribute");
}

}  // namespace sb::import
