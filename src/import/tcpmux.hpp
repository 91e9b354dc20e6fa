// tcpmux entries (RFC 1078): a program reached by name through the tcpmux
// port, in inetd's "tcpmux/NAME" and "tcpmux/+NAME" lines and xinetd's
// TCPMUX and TCPMUXPLUS types. Both importers hand each one here.
#pragma once

#include <optional>
#include <string>

#include "import/report.hpp"
#include "import/service_draft.hpp"

namespace sb::import {

struct TcpmuxEntry {
    std::string name;      // what the client asks for
    bool plus = false;     // switchboard answers "+" for the program
    ServiceDraft program;  // the program and its process attributes, no listen address
};

// The configuration has no tcpmux built-in yet (another issue adds it):
// until then every entry is reported, once, and nothing is written for it.
// When the built-in arrives, this is where an entry becomes its service.
std::optional<ServiceDraft> map_tcpmux(const TcpmuxEntry& entry, Report& report);

}  // namespace sb::import
