// The admission and timeout keys shared by "defaults" and every service:
// who may connect, how many at once, how fast, and what they are told.
#include <algorithm>
#include <limits>

#include "config/keys.hpp"
#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

using net::quote;

std::vector<net::Cidr> read_cidrs(const Node& node) {
    std::vector<net::Cidr> out;
    if (!node.expect_array("an array of addresses or prefixes like \"10.0.0.0/8\"")) return out;
    for (const Node& element : node.elements()) {
        auto text = element.string();
        if (!text) continue;
        std::string why;
        if (auto cidr = net::Cidr::parse(*text, why)) {
            out.push_back(*cidr);
        } else {
            element.error(why);
        }
    }
    return out;
}

namespace {

constexpr std::size_t k_max_banner = 64 * 1024;

template <typename Id, typename Read>
std::vector<Id> read_ids(const Node& node, std::string_view what, Read&& read) {
    std::vector<Id> out;
    if (!node.expect_array("an array of " + std::string(what) + " names or numbers")) return out;
    for (const Node& element : node.elements()) {
        if (auto id = read(element)) out.push_back(*id);
    }
    return out;
}

void read_source_prefix(const Node& node, Admission& into) {
    ObjectReader object(node, keys::source_prefix);
    if (auto v4 = object.get("ipv4")) {
        if (auto bits = v4->unsigned_number(0, 32)) into.source_prefix_v4 = static_cast<unsigned>(*bits);
    }
    if (auto v6 = object.get("ipv6")) {
        if (auto bits = v6->unsigned_number(0, 128)) into.source_prefix_v6 = static_cast<unsigned>(*bits);
    }
}

Rate read_rate(const Node& node) {
    Rate rate;
    ObjectReader object(node, keys::rate);
    if (!object.valid()) return rate;
    auto per_second = object.get("per_second");
    if (!per_second) {
        node.key_error("a rate needs \"per_second\"");
    } else if (auto v = per_second->number()) {
        if (*v > 0) {
            rate.per_second = *v;
        } else {
            per_second->error("per_second must be greater than 0, got " + per_second->shown());
        }
    }
    rate.burst = std::max(1.0, rate.per_second);
    if (auto burst = object.get("burst")) {
        if (auto v = burst->number()) {
            if (*v >= 1) {
                rate.burst = *v;
            } else {
                burst->error("burst must be at least 1, got " + burst->shown());
            }
        }
    }
    return rate;
}

Banner read_banner(const Node& node, LoadContext& context) {
    Banner banner;
    if (node.is_string()) {
        if (auto text = node.text()) {
            if (text->size() > k_max_banner) {
                node.error(node.label() + " is longer than " + std::to_string(k_max_banner) + " bytes");
            } else {
                banner.text = *text;
            }
        }
        return banner;
    }
    if (!node.is_object()) {
        node.type_error("a string or an object with \"file\"");
        return banner;
    }
    ObjectReader object(node, keys::banner_file);
    auto file = object.get("file");
    if (!file) {
        node.error(node.label() + " needs \"file\" (or write the text itself as a string)");
        return banner;
    }
    auto path = file->path_from_document();
    if (!path) return banner;
    banner.file = *path;
    if (context.options.offline) return banner;
    std::string why;
    if (auto text = read_file(*path, k_max_banner, why)) {
        banner.text = std::move(*text);
    } else if (context.options.check_system) {
        file->error("cannot read " + *path + ": " + why);
    }
    return banner;
}

}  // namespace

void read_admission(const ObjectReader& object, AdmissionSettings& into, LoadContext& context) {
    if (!object.valid()) return;
    Admission& a = into.admission;
    for (std::string_view key : keys::admission) {
        auto node = object.get(std::string(key));
        if (!node) continue;
        into.keys.emplace(key);
        const Node& n = *node;
        auto assign = [](auto& field, auto value) {
            if (value) field = *value;
        };
        if (key == "allow") {
            a.allow = read_cidrs(n);
        } else if (key == "deny") {
            a.deny = read_cidrs(n);
        } else if (key == "peer_uids") {
            a.peer_uids = read_ids<uid_t>(n, "user", [&](const Node& e) { return read_uid(e, context); });
        } else if (key == "peer_gids") {
            a.peer_gids = read_ids<gid_t>(n, "group", [&](const Node& e) { return read_gid(e, context); });
        } else if (key == "max_connections") {
            assign(a.max_connections, n.count());
        } else if (key == "on_limit") {
            if (auto i = n.choice(keys::on_limit, "on_limit value")) a.on_limit = static_cast<OnLimit>(*i);
        } else if (key == "per_source") {
            assign(a.per_source, n.count());
        } else if (key == "source_prefix") {
            read_source_prefix(n, a);
        } else if (key == "rate") {
            a.rate = read_rate(n);
        } else if (key == "source_rate") {
            a.source_rate = read_rate(n);
        } else if (key == "max_children") {
            assign(a.max_children, n.count());
        } else if (key == "allow_reflection") {
            assign(a.allow_reflection, n.boolean());
        } else if (key == "banner") {
            a.banner = read_banner(n, context);
        } else if (key == "banner_success") {
            a.banner_success = read_banner(n, context);
        } else if (key == "banner_fail") {
            a.banner_fail = read_banner(n, context);
        } else if (key == "timeouts") {
            ObjectReader timeouts(n, keys::timeouts);
            if (auto idle = timeouts.get("idle")) {
                assign(into.timeouts.idle, idle->duration());
                into.idle_given = true;
            }
            if (auto max = timeouts.get("max_duration")) assign(into.timeouts.max_duration, max->duration());
        }
    }
}

}  // namespace sb::config
