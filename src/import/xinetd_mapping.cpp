// xinetd services → drafts: one draft per service section, its defaults
// applied; every attribute either becomes a key or is reported with the
// file and line that set it.
#include <algorithm>
#include <set>

#include "import/access_list.hpp"
#include "import/document.hpp"
#include "import/files.hpp"
#include "import/hosts.hpp"
#include "import/services_db.hpp"
#include "import/tcpmux.hpp"
#include "import/xinetd_attributes.hpp"
#include "net/quote.hpp"

namespace sb::import {

using net::quote;

namespace {

bool has(const std::vector<std::string>& list, std::string_view value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

bool all_digits(const std::string& s, std::size_t from = 0) {
    return s.size() > from && s.size() - from <= 9 &&
           std::all_of(s.begin() + static_cast<long>(from), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Which services the defaults' "enabled" and "disabled" lists switch off.
struct EnabledLists {
    std::optional<std::vector<std::string>> enabled;
    std::vector<std::string> disabled;

    [[nodiscard]] bool allows(const std::string& id) const {
        return !has(disabled, id) && (!enabled || has(*enabled, id));
    }
};

class ServiceMapper {
public:
    ServiceMapper(const Attributes& attributes, const XinetdSection& section, Hosts& hosts,
                  const ServicesDb& services, const Options& options, Report& report)
        : a_(attributes), section_(section), hosts_(hosts), services_(services), options_(options), report_(report) {
        d_.origin = section.origin;
        d_.name = section.name;
    }

    std::optional<ServiceDraft> map(const EnabledLists& lists);

private:
    [[nodiscard]] const EffectiveAttribute* get(const std::string& name) const {
        auto it = a_.find(name);
        return it == a_.end() ? nullptr : &it->second;
    }
    [[nodiscard]] std::string first(const std::string& name, const std::string& fallback = "") const {
        const auto* e = get(name);
        return e && !e->values.empty() ? e->values.front() : fallback;
    }
    void unmapped(const EffectiveAttribute& e, const std::string& name, const std::string& why) {
        report_.unmapped(e.origin.file, e.origin.line, quote(name) + ": " + why);
    }
    void unmapped(const std::string& why) { report_.unmapped(d_.origin.file, d_.origin.line, why); }

    bool listen(const std::string& protocol, const std::vector<std::string>& flags, bool unlisted);
    void process_attributes();
    void admission();
    std::optional<std::uint32_t> count(const std::string& name);

    const Attributes& a_;
    const XinetdSection& section_;
    Hosts& hosts_;
    const ServicesDb& services_;
    const Options& options_;
    Report& report_;
    ServiceDraft d_;
};

bool ServiceMapper::listen(const std::string& protocol, const std::vector<std::string>& flags, bool unlisted) {
    std::optional<std::uint16_t> port;
    if (const auto* p = get("port")) {
        port = parse_port(first("port"));
        if (!port) unmapped(*p, "port", "not a port number; service not imported");
    } else if (unlisted) {
        unmapped("service " + quote(section_.name) + " is UNLISTED but has no port; not imported");
    } else {
        port = services_.port(section_.name, protocol);
        if (!port) {
            unmapped("service " + quote(section_.name) + "/" + protocol + " is not in " + options_.services_file +
                     " and has no port; not imported");
        }
    }
    if (!port) return false;
    std::string host = first("bind", first("interface"));
    if (get("v6only")) d_.v6only = first("v6only") == "yes";
    if (host.empty()) {
        // xinetd listens on IPv4 unless the service has the IPv6 flag.
        d_.listen.push_back(inet_endpoint(protocol, has(flags, "IPv6") ? "::" : "0.0.0.0", *port));
    } else {
        const auto* where = get("bind") ? get("bind") : get("interface");
        for (const auto& address : hosts_.addresses(host, where->origin, "bind address")) {
            d_.listen.push_back(inet_endpoint(protocol, address, *port));
        }
    }
    return !d_.listen.empty();
}

std::optional<std::uint32_t> ServiceMapper::count(const std::string& name) {
    const auto* e = get(name);
    if (!e) return std::nullopt;
    std::string v = first(name);
    if (v == "UNLIMITED") return 0;
    if (all_digits(v)) return static_cast<std::uint32_t>(std::stoul(v));
    unmapped(*e, name, "not a number or UNLIMITED; left out");
    return std::nullopt;
}

void ServiceMapper::admission() {
    for (const char* name : {"only_from", "no_access"}) {
        const auto* e = get(name);
        if (!e) continue;
        auto prefixes = access_prefixes(e->values, e->origin, name, hosts_, report_);
        if (std::string(name) == "only_from") {
            if (prefixes.empty()) {
                // "only_from =" with nothing usable: available to nobody.
                d_.deny = every_address();
                if (!e->values.empty()) unmapped(*e, name, "no address is left; the service is closed to everyone");
            } else {
                d_.allow = prefixes;
            }
        } else if (!prefixes.empty()) {
            if (!d_.deny) d_.deny = std::vector<std::string>{};
            for (auto& p : prefixes) {
                if (!has(*d_.deny, p)) d_.deny->push_back(p);
            }
        }
    }
    d_.max_connections = count("instances");
    d_.per_source = count("per_source");
    if (const auto* e = get("cps")) {
        std::string n = first("cps");
        if (all_digits(n) && std::stoul(n) > 0) {
            d_.rate_per_second = static_cast<double>(std::stoul(n));
            d_.rate_burst = d_.rate_per_second;
            report_.note(e->origin.file, e->origin.line,
                         "\"cps\": a rate of " + n +
                             " connections per second; over it switchboard refuses connections instead of disabling "
                             "the service");
        } else {
            unmapped(*e, "cps", "not a positive number; left out");
        }
    }
    for (auto [name, field] : {std::pair{"banner", &d_.banner}, std::pair{"banner_success", &d_.banner_success},
                               std::pair{"banner_fail", &d_.banner_fail}}) {
        *field = first(name);
    }
}

void ServiceMapper::process_attributes() {
    d_.user = first("user");
    d_.group = first("group");
    if (const auto* e = get("nice")) {
        std::string v = first("nice");
        bool negative = v.starts_with("-");
        if (all_digits(v, negative ? 1 : 0) && std::abs(std::stoi(v)) <= 20 && std::stoi(v) <= 19) {
            d_.nice = std::stoi(v);
        } else {
            unmapped(*e, "nice", "not a number from -20 to 19; left out");
        }
    }
    if (const auto* e = get("umask")) {
        std::string v = first("umask");
        if (!v.empty() && v.size() <= 4 && v.find_first_not_of("01234567") == std::string::npos) {
            d_.umask = v;
        } else {
            unmapped(*e, "umask", "not an octal mode; left out");
        }
    }
    if (const auto* e = get("groups"); e && first("groups") == "no") {
        unmapped(*e, "groups", "switchboard always gives a program its user's supplementary groups");
    }
    for (auto [attribute, limit] : {std::pair{"rlimit_as", "as"}, std::pair{"rlimit_files", "nofile"},
                                    std::pair{"rlimit_cpu", "cpu"}}) {
        const auto* e = get(attribute);
        if (!e) continue;
        std::string v = first(attribute);
        if (v == "UNLIMITED") {
            d_.rlimits[limit] = "unlimited";
        } else if (all_digits(v)) {
            d_.rlimits[limit] = std::stoull(v);
        } else if (std::string(limit) == "as" && v.size() > 1 && all_digits(v.substr(0, v.size() - 1)) &&
                   (v.back() == 'K' || v.back() == 'M' || v.back() == 'k' || v.back() == 'm')) {
            d_.rlimits[limit] = v;
        } else {
            unmapped(*e, attribute, "value " + quote(v) + " is not understood; left out");
        }
    }
    if (const auto* e = get("env")) {
        for (const auto& item : e->values) {
            auto eq = item.find('=');
            std::string name = item.substr(0, eq);
            bool valid = eq != std::string::npos && !name.empty() && !(name[0] >= '0' && name[0] <= '9') &&
                         name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
                             std::string::npos;
            if (valid) {
                d_.env[name] = item.substr(eq + 1);
            } else {
                unmapped(*e, "env", quote(item) + " is not NAME=value with a valid name; left out");
            }
        }
    }
    if (const auto* e = get("passenv")) d_.pass_env = e->values;
}

std::optional<ServiceDraft> ServiceMapper::map(const EnabledLists& lists) {
    for (const auto& [name, e] : a_) {
        if (e.from_defaults) continue;  // reported once, at the defaults section
        if (auto why = unmapped_reason(name)) unmapped(e, name, *why + "; left out");
    }
    const std::string id = first("id", section_.name);
    const auto* type_attr = get("type");
    const std::vector<std::string> type = type_attr ? type_attr->values : std::vector<std::string>{};
    const std::vector<std::string> flags = get("flags") ? get("flags")->values : std::vector<std::string>{};
    for (const auto& flag : flags) {
        if (flag == "IPv4" || flag == "IPv6" || flag == "NAMEINARGS" || flag == "NODELAY" || flag == "REUSE" ||
            flag == "NOLIBWRAP" || flag == "DISABLE") {
            continue;
        }
        if (flag == "KEEPALIVE") {
            d_.keepalive = true;
            continue;
        }
        unmapped(*get("flags"), "flags", "flag " + flag + " has no equivalent; left out");
    }
    const std::string socket_type = first("socket_type");
    if (socket_type != "stream" && socket_type != "dgram") {
        unmapped("socket_type " + quote(socket_type) + " is not supported; not imported");
        return std::nullopt;
    }
    const std::string protocol = first("protocol", socket_type == "stream" ? "tcp" : "udp");
    if ((protocol != "tcp" || socket_type != "stream") && (protocol != "udp" || socket_type != "dgram")) {
        unmapped("protocol " + quote(protocol) + " with socket_type " + socket_type + " is not supported; not imported");
        return std::nullopt;
    }
    d_.tag = protocol;
    d_.enabled = first("disable", "no") != "yes" && !has(flags, "DISABLE") && lists.allows(id);
    d_.wait = first("wait") == "yes" || socket_type == "dgram";

    if (has(type, "RPC")) {
        unmapped("rpc service " + quote(section_.name) + ": switchboard does not serve Sun RPC; not imported");
        return std::nullopt;
    }
    if (has(type, "INTERNAL")) {
        if (!is_builtin_name(section_.name)) {
            unmapped("internal service " + quote(section_.name) + " has no switchboard built-in; not imported");
            return std::nullopt;
        }
        d_.builtin = section_.name;
        d_.wait = false;
        for (const char* name : {"server", "server_args", "nice", "umask", "env", "passenv", "rlimit_as",
                                 "rlimit_files", "rlimit_cpu"}) {
            const auto* e = get(name);
            if (e && !e->from_defaults) unmapped(*e, name, "a built-in starts no program; left out");
        }
    } else if (const auto* redirect = get("redirect")) {
        // "redirect = HOST PORT": switchboard forwards the same way.
        if (redirect->values.size() != 2 || socket_type != "stream") {
            unmapped(*redirect, "redirect", "expected a host and a port on a stream service; service not imported");
            return std::nullopt;
        }
        const std::string& host = redirect->values[0];
        d_.redirect_to = "tcp://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                         redirect->values[1];
        d_.wait = false;
    } else if (get("server")) {
        std::vector<std::string> args = get("server_args") ? get("server_args")->values : std::vector<std::string>{};
        std::string program = first("server");
        if (has(flags, "NAMEINARGS")) {
            set_argv(d_, program, args, report_);
        } else {
            d_.argv = {program};
            d_.argv.insert(d_.argv.end(), args.begin(), args.end());
        }
        process_attributes();
        if (socket_type == "dgram" && first("wait") == "no") {
            unmapped("wait = no over UDP: switchboard starts UDP programs in wait mode only; imported as wait");
        }
    } else {
        unmapped("service " + quote(section_.name) + " has neither server nor type INTERNAL; not imported");
        return std::nullopt;
    }
    admission();
    if (has(type, "TCPMUX") || has(type, "TCPMUXPLUS")) {
        return map_tcpmux(TcpmuxEntry{section_.name, has(type, "TCPMUXPLUS"), d_}, report_);
    }
    if (!listen(protocol, flags, has(type, "UNLISTED"))) return std::nullopt;
    drop_wait_admission(d_, report_);
    return d_;
}

Result import_sections(const std::vector<XinetdSection>& sections, const Options& options, Report& report) {
    Hosts hosts(options.resolve, report);
    const ServicesDb services = ServicesDb::load(options.services_file);
    std::vector<const XinetdSection*> defaults;
    EnabledLists lists;
    for (const auto& s : sections) {
        if (!s.defaults) continue;
        defaults.push_back(&s);
        for (const auto& a : s.attributes) {
            if (auto why = unmapped_reason(a.name)) {
                report.unmapped(a.origin.file, a.origin.line, quote(a.name) + ": " + *why + "; left out");
            } else if (a.name == "enabled") {
                if (!lists.enabled) lists.enabled = std::vector<std::string>{};
                lists.enabled->insert(lists.enabled->end(), a.values.begin(), a.values.end());
            } else if (a.name == "disabled") {
                lists.disabled.insert(lists.disabled.end(), a.values.begin(), a.values.end());
            }
        }
    }
    std::vector<ServiceDraft> drafts;
    std::map<std::string, Origin> ids;
    for (const auto& s : sections) {
        if (s.defaults) continue;
        Attributes attributes = effective_attributes(defaults, s);
        attributes.erase("enabled");
        attributes.erase("disabled");
        ServiceMapper mapper(attributes, s, hosts, services, options, report);
        std::string id = attributes.contains("id") && !attributes["id"].values.empty() ? attributes["id"].values[0]
                                                                                        : s.name;
        if (auto [at, fresh] = ids.emplace(id, s.origin); !fresh) {
            report.unmapped(s.origin.file, s.origin.line,
                            "service id " + quote(id) + " is defined again (first at " + at->second.file + ":" +
                                std::to_string(at->second.line) + "); this one is not imported");
            continue;
        }
        if (auto d = mapper.map(lists)) drafts.push_back(std::move(*d));
    }
    Result result;
    result.config = build_document(std::move(drafts), report);
    return result;
}

}  // namespace

Result import_xinetd_text(std::string_view text, const std::string& name, const Options& options) {
    Report report;
    auto sections = parse_xinetd(text, name, options, report);
    Result result = import_sections(sections, options, report);
    result.warnings = report.take();
    return result;
}

Result import_xinetd(const std::string& path, const Options& options) {
    return import_file(path, options, import_xinetd_text);
}

}  // namespace sb::import
