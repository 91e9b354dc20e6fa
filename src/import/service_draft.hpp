// The configuration model as the importer builds it: one ServiceDraft per
// inetd line or xinetd service, holding only what switchboard's
// configuration can express (the mapping reports the rest). The JSON writer
// (document.cpp) turns a list of drafts into the configuration.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "import/report.hpp"

namespace sb::import {

struct ServiceDraft {
    std::string name;  // wanted name; made valid and unique when written
    std::string tag;   // the protocol ("tcp", "udp6"), to tell two drafts of one name apart
    Origin origin;
    std::vector<std::string> listen;
    std::optional<bool> v6only, keepalive;

    std::string builtin;      // set: a built-in; empty: exec (or redirect)
    std::string redirect_to;  // set: a redirect to this "tcp://HOST:PORT"
    std::string tcpmux;       // set: reached through tcpmux by this name (then listen may be empty)
    bool tcpmux_plus = false;
    std::vector<std::string> argv;
    std::string user, group;
    bool wait = false;
    std::optional<std::string> umask;
    std::optional<int> nice;
    std::map<std::string, nlohmann::json> rlimits;
    std::map<std::string, std::string> env;
    std::vector<std::string> pass_env;

    std::optional<std::vector<std::string>> allow, deny;  // set: written, even when empty
    std::optional<std::uint32_t> max_connections, per_source;
    std::optional<double> rate_per_second, rate_burst;
    std::string banner, banner_success, banner_fail;  // files
    bool enabled = true;

    [[nodiscard]] bool udp_only() const;
};

// The service object of the configuration, without "listen" when
// `with_listen` is false (to compare two drafts for merging).
nlohmann::json to_json(const ServiceDraft& draft, bool with_listen = true);

// inetd and xinetd call their built-ins by these names.
bool is_builtin_name(std::string_view name);

// argv for `program` from inetd-style arguments that start with argv[0].
// switchboard starts a program with its own path as argv[0]; a different
// argv[0] (tcpd finds its real server by it) is reported.
void set_argv(ServiceDraft& draft, const std::string& program, const std::vector<std::string>& args_from_argv0,
              Report& report);

// A wait-mode service's child takes the connections (or datagrams) itself:
// switchboard rejects per-connection limits on it. Moves what cannot apply
// out of the draft, reporting each.
void drop_wait_admission(ServiceDraft& draft, Report& report);

}  // namespace sb::import
