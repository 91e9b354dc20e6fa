// The JSON writer: imported drafts → one configuration. Three rules make
// the result something `check` accepts and a diff can read:
//   * no two services take the same address (a later one loses it, with a
//     warning naming the earlier one);
//   * a service served the same way over several protocols (echo over tcp
//     and udp) becomes one service with several listeners;
//   * names are valid, unique and derived from the input alone, never from
//     the order of unrelated lines: "echo", or "echo-udp" when two
//     different services want "echo".
#include <algorithm>
#include <map>
#include <tuple>

#include "import/document.hpp"
#include "net/quote.hpp"
#include "switchboard/net/cidr.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::import {

namespace {

constexpr std::size_t k_max_name = 64;

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

std::string valid_name(const std::string& wanted) {
    std::string out;
    for (char c : wanted) out += name_char(c) ? c : '-';
    while (!out.empty() && !name_char(out.front())) out.erase(out.begin());
    while (!out.empty() && (out.front() == '_' || out.front() == '.' || out.front() == '-')) out.erase(out.begin());
    if (out.empty()) out = "service";
    if (out.size() > k_max_name) out.resize(k_max_name);
    return out;
}

// What a tcp/udp listener covers on its port: everything, all of IPv4, all
// of IPv6, or one address — the same judgement `check` makes.
struct Coverage {
    enum class Kind : std::uint8_t { all, all_v4, all_v6, one } kind = Kind::one;
    net::IpAddress address;
    [[nodiscard]] bool v4() const { return kind == Kind::all_v4 || (kind == Kind::one && address.is_v4()); }
};

struct Slot {
    net::Endpoint endpoint;
    Coverage coverage;
    Origin origin;
};

std::optional<Slot> slot_of(const std::string& listen, const ServiceDraft& draft) {
    std::string error;
    auto ep = net::parse_endpoint(listen, error);
    if (!ep) return std::nullopt;
    Slot slot{*ep, {}, draft.origin};
    if (ep->any) {
        slot.coverage.kind = Coverage::Kind::all;
    } else if (auto ip = net::IpAddress::parse(ep->host)) {
        slot.coverage.address = *ip;
        if (*ip == net::IpAddress{}) {
            slot.coverage.kind = draft.v6only.value_or(false) ? Coverage::Kind::all_v6 : Coverage::Kind::all;
        } else if (ip->is_v4() && ip->masked(96) == *ip) {
            slot.coverage.kind = Coverage::Kind::all_v4;
        }
    }
    return slot;
}

bool clash(const Slot& a, const Slot& b) {
    if (a.endpoint.transport != b.endpoint.transport) return false;
    if (a.endpoint.transport == net::Transport::unix_stream) {
        return a.endpoint.host == b.endpoint.host && a.endpoint.abstract == b.endpoint.abstract;
    }
    if (a.endpoint.port != b.endpoint.port) return false;
    using K = Coverage::Kind;
    const Coverage &x = a.coverage, &y = b.coverage;
    if (x.kind == K::all || y.kind == K::all) return true;
    if (x.kind == K::all_v4 || y.kind == K::all_v4) return x.v4() && y.v4();
    if (x.kind == K::all_v6 || y.kind == K::all_v6) return !x.v4() && !y.v4();
    return x.address == y.address;
}

std::string where(const Origin& o) { return o.file + ":" + std::to_string(o.line); }

// Drops every address an earlier draft already listens on, and drafts left
// with no address at all.
std::vector<ServiceDraft> without_clashes(std::vector<ServiceDraft> drafts, Report& report) {
    std::vector<Slot> taken;
    std::vector<ServiceDraft> kept;
    for (auto& draft : drafts) {
        std::vector<std::string> listen;
        for (const auto& l : draft.listen) {
            auto slot = slot_of(l, draft);
            if (!slot) {
                report.unmapped(draft.origin.file, draft.origin.line, "address " + l + " is not valid; left out");
                continue;
            }
            auto earlier = std::find_if(taken.begin(), taken.end(), [&](const Slot& t) { return clash(t, *slot); });
            if (earlier != taken.end()) {
                report.unmapped(draft.origin.file, draft.origin.line,
                                "address " + l + " is already taken by the entry at " + where(earlier->origin) +
                                    "; left out");
                continue;
            }
            taken.push_back(*slot);
            listen.push_back(l);
        }
        if (listen.empty() && !(draft.listen.empty() && !draft.tcpmux.empty())) {
            if (!draft.listen.empty()) {
                report.unmapped(draft.origin.file, draft.origin.line,
                                "service " + net::quote(draft.name) + " has no address left; not imported");
            }
            continue;
        }
        draft.listen = std::move(listen);
        kept.push_back(std::move(draft));
    }
    return kept;
}

// Drafts of one name that differ only in where they listen become one.
std::vector<ServiceDraft> merged(std::vector<ServiceDraft> drafts) {
    std::vector<ServiceDraft> out;
    for (auto& draft : drafts) {
        auto same = std::find_if(out.begin(), out.end(), [&](const ServiceDraft& o) {
            return o.name == draft.name && to_json(o, false) == to_json(draft, false);
        });
        if (same == out.end()) {
            out.push_back(std::move(draft));
            continue;
        }
        same->listen.insert(same->listen.end(), draft.listen.begin(), draft.listen.end());
        if (same->tag != draft.tag) same->tag += "-" + draft.tag;
    }
    return out;
}

}  // namespace

nlohmann::json build_document(std::vector<ServiceDraft> drafts, Report& report) {
    for (auto& d : drafts) d.name = valid_name(d.name);
    drafts = merged(without_clashes(std::move(drafts), report));
    // Programs reached through tcpmux need the tcpmux port itself, which
    // inetd serves without a line of its own.
    auto joins = std::find_if(drafts.begin(), drafts.end(), [](const ServiceDraft& d) { return !d.tcpmux.empty(); });
    bool has_port = std::any_of(drafts.begin(), drafts.end(), [](const ServiceDraft& d) { return d.builtin == "tcpmux"; });
    if (joins != drafts.end() && !has_port) {
        ServiceDraft port;
        port.name = "tcpmux";
        port.tag = "tcp";
        port.origin = joins->origin;
        port.listen = {"tcp://*:1"};
        port.builtin = "tcpmux";
        report.note(joins->origin.file, joins->origin.line,
                    "tcpmux services are reached through the tcpmux port: added service \"tcpmux\" on tcp://*:1");
        drafts.push_back(std::move(port));
    }

    std::map<std::string, int> wanted;
    for (const auto& d : drafts) ++wanted[d.name];
    nlohmann::json services = nlohmann::json::object();
    for (const auto& d : drafts) {
        std::string name = d.name;
        if (wanted[name] > 1) name = valid_name(name + "-" + d.tag);
        std::string unique = name;
        for (int n = 2; services.contains(unique); ++n) {
            std::string suffix = "-" + std::to_string(n);
            unique = name.substr(0, std::min(name.size(), k_max_name - suffix.size())) + suffix;
        }
        services[unique] = to_json(d);
    }
    return nlohmann::json{{"services", services}};
}

std::string render(const nlohmann::json& config) { return config.dump(2) + "\n"; }

bool Result::has_unmapped() const {
    return std::any_of(warnings.begin(), warnings.end(), [](const Warning& w) { return w.unmapped; });
}

std::string Warning::to_string(bool strict) const {
    std::string out = file;
    if (line > 0) out += ":" + std::to_string(line);
    out += (strict && unmapped) ? ": error: " : ": warning: ";
    return out + message;
}

}  // namespace sb::import
