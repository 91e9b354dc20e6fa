// xinetd's only_from / no_access values → allow / deny prefixes.
#pragma once

#include <string>
#include <vector>

#include "import/hosts.hpp"
#include "import/report.hpp"

namespace sb::import {

// Each value is an address ("10.0.0.0", whose trailing zero parts are
// wildcards), a factorized address ("10.1.{2,3}"), a prefix, an IPv6
// address, or a host name (resolved now, listed in a warning). Domain
// suffixes (".example.com") need a reverse lookup per connection, which
// switchboard never does: they are reported and left out.
std::vector<std::string> access_prefixes(const std::vector<std::string>& values, const Origin& origin,
                                         const std::string& attribute, Hosts& hosts, Report& report);

// Everything: the deny list of "only_from =" with no value.
std::vector<std::string> every_address();

}  // namespace sb::import
