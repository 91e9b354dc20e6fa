// tcpmux entries: a service that joins switchboard's tcpmux built-in.
#include "import/tcpmux.hpp"

#include <algorithm>

#include "net/quote.hpp"

namespace sb::import {

std::optional<ServiceDraft> map_tcpmux(const TcpmuxEntry& entry, Report& report) {
    const Origin& at = entry.program.origin;
    std::string shown = net::quote((entry.plus ? "+" : "") + entry.name);
    bool printable = !entry.name.empty() && entry.name.size() <= 64 &&
                     std::all_of(entry.name.begin(), entry.name.end(), [](char c) { return c > ' ' && c < 127; });
    std::string upper = entry.name;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](char c) { return c >= 'a' && c <= 'z' ? c - 32 : c; });
    if (!printable || upper == "HELP") {
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
