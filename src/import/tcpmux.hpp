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

// The entry as a service that joins the tcpmux built-in ("tcpmux": NAME,
// no listen of its own); an entry switchboard cannot take (a name tcpmux
// does not allow, a wait program) is reported and gives nothing.
std::optional<ServiceDraft> map_tcpmux(const TcpmuxEntry& entry, Report& report);

}  // namespace sb::import
