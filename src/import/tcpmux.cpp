// tcpmux entries: a service that joins switchboard's tcpmux built-in.
#include "import/tcpmux.hpp"

#include "net/quote.hpp"
#include "net/tcpmux_request.hpp"

namespace sb::import {

std::optional<ServiceDraft> map_tcpmux(const TcpmuxEntry& entry, Report& report) {
    const Origin& at = entry.program.origin;
    std::string shown = net::quote((entry.plus ? "+" : "") + entry.name);
    if (!net::tcpmux_name_well_formed(entry.name) || net::same_tcpmux_name(entry.name, "HELP")) {
        report.unmapped(at.file, at.line,
                        "tcpmux service " + shown + ": a tcpmux name is 1-64 printable characters, not HELP; not imported");
        return std::nullopt;
    }
    if (entry.program.wait || !entry.program.builtin.empty()) {
        report.unmapped(at.file, at.line,
                        "tcpmux service " + shown + ": tcpmux hands each client to its own program (nowait); not imported");
        return std::nullopt;
    }
    ServiceDraft d = entry.program;
    d.name = entry.name;
    d.listen.clear();
    d.tcpmux = entry.name;
    d.tcpmux_plus = entry.plus;
    return d;
}

}  // namespace sb::import
