// tcpmux entries: reported until switchboard has the tcpmux built-in.
#include "import/tcpmux.hpp"

#include "net/quote.hpp"

namespace sb::import {

std::optional<ServiceDraft> map_tcpmux(const TcpmuxEntry& entry, Report& report) {
    report.unmapped(entry.program.origin.file, entry.program.origin.line,
                    "tcpmux service " + net::quote((entry.plus ? "+" : "") + entry.name) +
                        ": tcpmux is not supported yet; not imported");
    return std::nullopt;
}

}  // namespace sb::import
