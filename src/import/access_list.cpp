// Converting xinetd address lists.
#include "import/access_list.hpp"

#include <algorithm>
#include <optional>
#include <sstream>

#include "net/quote.hpp"
#include "switchboard/net/cidr.hpp"

namespace sb::import {

namespace {

std::vector<std::string> split(const std::string& text, char by) {
    std::vector<std::string> parts;
    std::string part;
    std::istringstream in(text);
    while (std::getline(in, part, by)) parts.push_back(part);
    if (!text.empty() && text.back() == by) parts.emplace_back();
    return parts;
}

bool octet(const std::string& s) {
    if (s.empty() || s.size() > 3) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return std::stoi(s) <= 255;
}

// n dotted IPv4 parts (1..4) → the prefix they name, "" when not IPv4.
// Four parts: trailing zero parts are wildcards (xinetd's rule).
std::string ipv4_prefix(std::vector<std::string> parts) {
    if (parts.empty() || parts.size() > 4) return "";
    for (const auto& p : parts) {
        if (!octet(p)) return "";
    }
    std::size_t significant = parts.size();
    if (parts.size() == 4) {
        while (significant > 0 && std::stoi(parts[significant - 1]) == 0) --significant;
    }
    while (parts.size() < 4) parts.emplace_back("0");
    std::string address = parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[3];
    return significant == 4 ? address : address + "/" + std::to_string(significant * 8);
}

// "a.b.{c,d}" → {"a.b.c", "a.b.d"} as part lists; nullopt when not factorized.
std::optional<std::vector<std::vector<std::string>>> factorized(const std::string& value) {
    auto open = value.find('{');
    if (open == std::string::npos || value.back() != '}' || open == 0 || value[open - 1] != '.') return std::nullopt;
    std::vector<std::string> head = split(value.substr(0, open - 1), '.');
    std::vector<std::vector<std::string>> out;
    for (const auto& item : split(value.substr(open + 1, value.size() - open - 2), ',')) {
        auto parts = head;
        parts.push_back(item);
        out.push_back(parts);
    }
    return out;
}

}  // namespace

std::vector<std::string> every_address() { return {"0.0.0.0/0", "::/0"}; }

std::vector<std::string> access_prefixes(const std::vector<std::string>& values, const Origin& origin,
                                         const std::string& attribute, Hosts& hosts, Report& report) {
    std::vector<std::string> out;
    auto add = [&](const std::string& prefix) {
        if (std::find(out.begin(), out.end(), prefix) == out.end()) out.push_back(prefix);
    };
    for (const std::string& value : values) {
        const std::string what = attribute + " " + net::quote(value);
        if (value == "0.0.0.0") {
            for (const auto& p : every_address()) add(p);
            continue;
        }
        if (auto expanded = factorized(value)) {
            bool ok = !expanded->empty();
            std::vector<std::string> prefixes;
            for (const auto& parts : *expanded) {
                std::string p = ipv4_prefix(parts);
                ok = ok && !p.empty();
                prefixes.push_back(p);
            }
            if (!ok) {
                report.unmapped(origin.file, origin.line, what + " is not a valid factorized address; left out");
                continue;
            }
            for (const auto& p : prefixes) add(p);
            continue;
        }
        if (std::string p = ipv4_prefix(split(value, '.')); !p.empty() && split(value, '.').size() == 4) {
            add(p);
            continue;
        }
        std::string why;
        if (value.find('/') != std::string::npos || net::IpAddress::parse(value)) {
            if (auto cidr = net::Cidr::parse(value, why)) {
                add(cidr->to_string());
            } else {
                report.unmapped(origin.file, origin.line, what + ": " + why + "; left out");
            }
            continue;
        }
        if (value.starts_with(".")) {
            report.unmapped(origin.file, origin.line,
                            what + ": a domain match needs a reverse lookup of every client, which switchboard never "
                                   "does; left out");
            continue;
        }
        for (const auto& address : hosts.addresses(value, origin, attribute)) add(address);
    }
    return out;
}

}  // namespace sb::import
