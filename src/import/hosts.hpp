// Host addresses as the imported configuration writes them: literals are
// kept, names are resolved here, at import time (switchboard never resolves
// a listener or an allow/deny entry at run time), and every resolved name
// is listed in a warning so the user sees what was pinned.
#pragma once

#include <string>
#include <vector>

#include "import/import.hpp"
#include "import/report.hpp"

namespace sb::import {

class Hosts {
public:
    Hosts(HostResolver resolver, Report& report);

    // IP literals (IPv6 without brackets) for `host`: itself when it is a
    // literal, else what the resolver says. A name that resolves to nothing
    // is reported as unmapped and gives an empty list.
    std::vector<std::string> addresses(const std::string& host, const Origin& origin, const std::string& what);

private:
    HostResolver resolver_;
    Report& report_;
};

bool is_ipv6_literal(const std::string& address);
// "tcp://HOST:PORT" with HOST a literal (IPv6 in brackets) or "*".
std::string inet_endpoint(const std::string& transport, const std::string& host, unsigned port);

}  // namespace sb::import
