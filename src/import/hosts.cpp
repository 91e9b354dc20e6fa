// Resolving the host names found in inetd and xinetd files, once, at import.
#include "import/hosts.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "net/quote.hpp"
#include "switchboard/net/cidr.hpp"

namespace sb::import {

namespace {

std::vector<std::string> getaddrinfo_resolve(const std::string& name) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    std::vector<std::string> out;
    if (::getaddrinfo(name.c_str(), nullptr, &hints, &list) != 0) return out;
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        char text[NI_MAXHOST];
        if (::getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) == 0 &&
            std::find(out.begin(), out.end(), text) == out.end()) {
            out.emplace_back(text);
        }
    }
    ::freeaddrinfo(list);
    return out;
}

}  // namespace

HostResolver hosts_file_resolver(const std::string& path) {
    std::multimap<std::string, std::string> table;  // name → address, in file order
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream fields(line);
        std::string address;
        if (!(fields >> address) || !net::IpAddress::parse(address)) continue;
        for (std::string name; fields >> name;) table.emplace(name, address);
    }
    return [table = std::move(table)](const std::string& name) {
        std::vector<std::string> out;
        for (auto [it, end] = table.equal_range(name); it != end; ++it) {
            if (std::find(out.begin(), out.end(), it->second) == out.end()) out.push_back(it->second);
        }
        return out;
    };
}

Hosts::Hosts(HostResolver resolver, Report& report)
    : resolver_(resolver ? std::move(resolver) : HostResolver(getaddrinfo_resolve)), report_(report) {}

std::vector<std::string> Hosts::addresses(const std::string& host, const Origin& origin, const std::string& what) {
    if (net::IpAddress::parse(host)) return {host};
    std::vector<std::string> found = resolver_(host);
    std::vector<std::string> literal;
    for (auto& a : found) {
        if (net::IpAddress::parse(a)) literal.push_back(a);
    }
    if (literal.empty()) {
        report_.unmapped(origin.file, origin.line,
                         what + " " + net::quote(host) + ": the host name does not resolve; left out");
        return literal;
    }
    std::string list;
    for (const auto& a : literal) list += (list.empty() ? "" : " ") + a;
    report_.note(origin.file, origin.line,
                 what + " " + net::quote(host) + " resolved now to " + list +
                     "; the configuration holds these addresses, switchboard never resolves them again");
    return literal;
}

bool is_ipv6_literal(const std::string& address) { return address.find(':') != std::string::npos; }

std::string inet_endpoint(const std::string& transport, const std::string& host, unsigned port) {
    std::string h = is_ipv6_literal(host) ? "[" + host + "]" : host;
    return transport + "://" + h + ":" + std::to_string(port);
}

}  // namespace sb::import
