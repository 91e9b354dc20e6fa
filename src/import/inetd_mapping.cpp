// inetd entries → services. Each line becomes one draft; what a line says
// that switchboard cannot (socket buffer sizes, rpc, raw sockets, UDP
// programs started per datagram) is reported with the line's position.
#include <algorithm>
#include <cmath>

#include "import/document.hpp"
#include "import/files.hpp"
#include "import/hosts.hpp"
#include "import/import.hpp"
#include "import/inetd_parser.hpp"
#include "import/services_db.hpp"
#include "import/tcpmux.hpp"
#include "net/quote.hpp"

namespace sb::import {

using net::quote;

namespace {

// Which addresses a protocol field listens on when the host is "*".
enum class Family : std::uint8_t { dual, v4, v6_dual, v6_only };

struct Protocol {
    std::string transport;  // tcp, udp, unix
    Family family = Family::dual;
};

// "tcp", "udp6", "tcp6only", "unix", with ",sndbuf=..." options stripped
// (and reported). openbsd-inetd reads "tcp" as IPv4 and IPv6 and "tcp6" as
// IPv6 only; inetutils reads "tcp" as IPv4 only and "tcp6" as both.
std::optional<Protocol> parse_protocol(const InetdEntry& e, Dialect dialect, Report& report) {
    std::string field = e.protocol;
    if (auto comma = field.find(','); comma != std::string::npos) {
        report.unmapped(e.origin.file, e.origin.line,
                        "socket buffer sizes " + quote(field.substr(comma + 1)) + " have no equivalent; left out");
        field.erase(comma);
    }
    if (field.starts_with("rpc/")) {
        report.unmapped(e.origin.file, e.origin.line,
                        "rpc service " + quote(e.service) + ": switchboard does not serve Sun RPC; not imported");
        return std::nullopt;
    }
    if (field == "unix") return Protocol{"unix", Family::dual};
    for (std::string base : {"tcp", "udp"}) {
        if (!field.starts_with(base)) continue;
        std::string rest = field.substr(base.size());
        const bool openbsd = dialect == Dialect::openbsd;
        if (rest.empty()) return Protocol{base, openbsd ? Family::dual : Family::v4};
        if (rest == "4") return Protocol{base, Family::v4};
        if (rest == "6") return Protocol{base, openbsd ? Family::v6_only : Family::v6_dual};
        if (rest == "46" && openbsd) return Protocol{base, Family::v6_dual};
        if (rest == "6only" && !openbsd) return Protocol{base, Family::v6_only};
    }
    report.unmapped(e.origin.file, e.origin.line, "protocol " + quote(e.protocol) + " is not supported; not imported");
    return std::nullopt;
}

void set_user(ServiceDraft& draft, const std::string& field) {
    auto split = field.find(':');
    if (split == std::string::npos) split = field.find('.');
    draft.user = field.substr(0, split);
    if (split != std::string::npos) draft.group = field.substr(split + 1);
}

bool listen_on(ServiceDraft& draft, const InetdEntry& e, const Protocol& proto, unsigned port, Hosts& hosts,
               Report& report) {
    for (const std::string& host : e.hosts) {
        if (host == "*") {
            switch (proto.family) {
                case Family::dual: draft.listen.push_back(inet_endpoint(proto.transport, "*", port)); break;
                case Family::v4: draft.listen.push_back(inet_endpoint(proto.transport, "0.0.0.0", port)); break;
                case Family::v6_dual:
                case Family::v6_only:
                    draft.listen.push_back(inet_endpoint(proto.transport, "::", port));
                    draft.v6only = proto.family == Family::v6_only;
                    break;
            }
            continue;
        }
        for (const std::string& address : hosts.addresses(host, e.origin, "listen address")) {
            const bool v6 = is_ipv6_literal(address);
            if ((proto.family == Family::v4 && v6) || (proto.family == Family::v6_only && !v6)) {
                report.unmapped(e.origin.file, e.origin.line,
                                "address " + address + " does not match protocol " + quote(e.protocol) + "; left out");
                continue;
            }
            draft.listen.push_back(inet_endpoint(proto.transport, address, port));
        }
    }
    return !draft.listen.empty();
}

// "wait", "nowait", optionally ".MAX" (spawns per minute).
bool parse_wait(const InetdEntry& e, bool& wait, std::optional<unsigned>& max, Report& report) {
    std::string field = e.wait;
    if (auto dot = field.find_first_of(".:"); dot != std::string::npos) {
        std::string number = field.substr(dot + 1);
        field.erase(dot);
        if (number.empty() || number.size() > 9 || !std::all_of(number.begin(), number.end(), ::isdigit)) {
            report.unmapped(e.origin.file, e.origin.line, "wait field " + quote(e.wait) + " is not valid; not imported");
            return false;
        }
        max = static_cast<unsigned>(std::stoul(number));
    }
    if (field != "wait" && field != "nowait") {
        report.unmapped(e.origin.file, e.origin.line, "wait field " + quote(e.wait) + " is not valid; not imported");
        return false;
    }
    wait = field == "wait";
    return true;
}

std::optional<ServiceDraft> map_entry(const InetdEntry& e, const ServicesDb& services, Hosts& hosts,
                                      const Options& options, Report& report) {
    ServiceDraft d;
    d.origin = e.origin;
    bool wait = false;
    std::optional<unsigned> max;
    auto proto = parse_protocol(e, options.dialect, report);
    if (!proto || !parse_wait(e, wait, max, report)) return std::nullopt;
    if (e.socket_type != "stream" && e.socket_type != "dgram") {
        report.unmapped(e.origin.file, e.origin.line,
                        "socket type " + quote(e.socket_type) + " is not supported; not imported");
        return std::nullopt;
    }
    const bool stream = e.socket_type == "stream";
    if (stream == (proto->transport == "udp")) {
        report.unmapped(e.origin.file, e.origin.line,
                        "socket type " + e.socket_type + " does not go with protocol " + quote(e.protocol) +
                            (proto->transport == "unix" ? " (switchboard has UNIX stream sockets only)" : "") +
                            "; not imported");
        return std::nullopt;
    }
    set_user(d, e.user);
    if (e.service.starts_with("tcpmux/")) {
        std::string name = e.service.substr(7);
        bool plus = name.starts_with("+");
        if (plus) name.erase(0, 1);
        // What the program's line would say matters once tcpmux maps.
        Report program_report;
        set_argv(d, e.program, e.args, program_report);
        d.wait = wait;
        auto mapped = map_tcpmux(TcpmuxEntry{name, plus, d}, report);
        if (mapped) report.append(program_report);
        return mapped;
    }
    if (e.program == "internal") {
        d.builtin = e.service;
    } else {
        set_argv(d, e.program, e.args, report);
    }
    if (proto->transport != "unix" && e.service.find('/') != std::string::npos) {
        report.unmapped(e.origin.file, e.origin.line,
                        "rpc service " + quote(e.service) + ": switchboard does not serve Sun RPC; not imported");
        return std::nullopt;
    }
    if (!d.builtin.empty() && !is_builtin_name(d.builtin)) {
        report.unmapped(e.origin.file, e.origin.line,
                        "internal service " + quote(e.service) + " has no switchboard built-in; not imported");
        return std::nullopt;
    }

    if (proto->transport == "unix") {
        d.name = e.service.substr(e.service.rfind('/') + 1);
        d.tag = "unix";
        d.listen.push_back("unix:" + e.service);
    } else {
        auto port = services.port(e.service, proto->transport);
        if (!port) {
            report.unmapped(e.origin.file, e.origin.line,
                            "service " + quote(e.service) + "/" + proto->transport + " is not in " +
                                options.services_file + "; not imported");
            return std::nullopt;
        }
        d.name = e.service;
        d.tag = e.protocol.substr(0, e.protocol.find(','));
        if (!listen_on(d, e, *proto, *port, hosts, report)) return std::nullopt;
    }

    if (d.builtin.empty()) {
        // UDP programs always own the socket in switchboard; inetd's
        // "dgram nowait" (a process per datagram) has no equivalent.
        if (!stream && !wait) {
            report.unmapped(e.origin.file, e.origin.line,
                            "dgram nowait: switchboard starts UDP programs in wait mode only; imported as wait");
        }
        d.wait = wait || !stream;
    }
    if (max) {
        // MAX spawns a minute: a bucket of MAX that refills over a minute.
        // inetd stopped the service for ten minutes past it; switchboard
        // only refuses what is over the rate.
        d.rate_per_second = std::round(std::max(*max, 1u) / 60.0 * 1000.0) / 1000.0;
        d.rate_burst = std::max(*max, 1u);
    }
    drop_wait_admission(d, report);
    return d;
}

Result import_inetd_entries(std::string_view text, const std::string& name, const Options& options) {
    Report report;
    Hosts hosts(options.resolve, report);
    const ServicesDb services = ServicesDb::load(options.services_file);
    std::vector<ServiceDraft> drafts;
    for (const InetdEntry& e : parse_inetd(text, name, report)) {
        if (auto d = map_entry(e, services, hosts, options, report)) drafts.push_back(std::move(*d));
    }
    Result result;
    result.config = build_document(std::move(drafts), report);
    result.warnings = report.take();
    return result;
}

}  // namespace

Result import_inetd_text(std::string_view text, const std::string& name, const Options& options) {
    return import_inetd_entries(text, name, options);
}

Result import_inetd(const std::string& path, const Options& options) {
    return import_file(path, options, import_inetd_text);
}

}  // namespace sb::import
