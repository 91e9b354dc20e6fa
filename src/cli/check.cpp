// `switchboard check`: everything a start would verify, without binding,
// then a table of what would run. `--offline` leaves out what depends on
// this host (users, groups, programs, directories, banner files).
#include <cstdio>
#include <string>

#include "config/keys.hpp"
#include "cli/cli.hpp"
#include "control/table.hpp"
#include "switchboard/config/load.hpp"

namespace sb::cli {
namespace {

std::string limit(std::uint32_t value) { return value == config::k_unlimited ? "-" : std::to_string(value); }

std::string kind_of(const config::Service& s) {
    if (const auto* b = s.builtin()) {
        return "builtin " + std::string(config::keys::builtins[static_cast<std::size_t>(*b)]);
    }
    if (const auto* r = s.redirect()) {
        std::string out = "redirect " + r->to.to_string();
        if (r->proxy_protocol != config::ProxyVersion::none) {
            out += r->proxy_protocol == config::ProxyVersion::v1 ? " (proxy v1)" : " (proxy v2)";
        }
        if (!r->source.empty()) out += " from " + r->source;
        return out;
    }
    const config::Exec& e = *s.exec();
    std::string out = e.wait ? "exec-wait " : "exec ";
    out += e.argv.empty() ? std::string("?") : e.argv.front();
    if (!e.wait && e.io == config::IoMode::socket) out += " (io socket)";
    if (!e.credentials.user_name.empty()) out += " as " + e.credentials.user_name;
    return out;
}

std::string rate_of(const config::Rate& rate) {
    if (!rate.enabled()) return "-";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g/s", rate.per_second);
    return buf;
}

std::string summary(const config::Config& c) {
    control::Table table;
    table.headers = {"SERVICE", "KIND", "MAX_CONN", "PER_SOURCE", "RATE", "MAX_CHILDREN", "LISTEN"};
    table.numeric = {false, false, true, true, true, true, false};
    for (const auto& [name, s] : c.services) {
        std::string listen;
        for (const auto& l : s.listen) listen += (listen.empty() ? "" : " ") + l.endpoint.to_string();
        if (s.tcpmux) listen += (listen.empty() ? "tcpmux " : " tcpmux ") + s.tcpmux->name + (s.tcpmux->plus ? " (+)" : "");
        const config::Admission& a = s.admission;
        table.rows.push_back({name + (s.enabled ? "" : " (disabled)"), kind_of(s), limit(a.max_connections),
                              limit(a.per_source), rate_of(a.rate), s.exec() ? limit(a.max_children) : "",
                              listen});
    }
    std::string out = control::format_table(table);
    out += "limits: max_connections " + limit(c.limits.max_connections) + ", max_children " +
           limit(c.limits.max_children) + "\n";
    out += "control: " + (c.control.socket.empty() ? std::string("no socket") : c.control.socket);
    if (c.control.tcp) {
        out += ", " + c.control.tcp->to_string();
        if (c.control.token_file.empty()) out += " (read-only: no token_file)";
    }
    if (c.control.admin_group) out += ", admin group " + std::to_string(*c.control.admin_group);
    if (!c.control.token_file.empty()) out += ", token file " + c.control.token_file;
    out += "\nmetrics: " + (c.metrics.listen ? "http://" + c.metrics.listen->to_string().substr(6) + "/metrics"
                                             : std::string("ctl metrics only"));
    out += "\n";
    return out;
}

}  // namespace

int check(const std::string& config_path, bool offline) {
    config::LoadOptions options;
    options.offline = offline;
    auto result = config::load_file(config_path, options);
    if (!result.config) {
        for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "%s: %zu error%s\n", config_path.c_str(), result.errors.size(),
                     result.errors.size() == 1 ? "" : "s");
        return 2;
    }
    std::size_t listeners = 0;
    for (const auto& [name, s] : result.config->services) listeners += s.listen.size();
    std::printf("%s: ok%s, %zu service%s, %zu listener%s, %zu file%s\n", config_path.c_str(),
                offline ? " (offline: users, groups, programs and files not checked)" : "",
                result.config->services.size(), result.config->services.size() == 1 ? "" : "s", listeners,
                listeners == 1 ? "" : "s", result.config->files.size(), result.config->files.size() == 1 ? "" : "s");
    std::string table = summary(*result.config);
    std::fwrite(table.data(), 1, table.size(), stdout);
    return 0;
}

}  // namespace sb::cli
