// Children's stderr lines, rate-limited per service (see child_stderr.hpp).
#include "log/child_stderr.hpp"

#include <map>
#include <string>

#include "log/limiter.hpp"
#include "log/log.hpp"

namespace sb::log {
namespace {

std::map<std::string, LogLimiter, std::less<>>& limiters() {
    static std::map<std::string, LogLimiter, std::less<>> by_service;
    return by_service;
}

void write_summary(std::string_view service, std::uint64_t suppressed) {
    warning("stderr-suppressed", {{"service", service},
                                  {"suppressed", static_cast<unsigned long long>(suppressed)},
                                  {"detail", "suppressed " + std::to_string(suppressed) + " stderr lines"}});
}

}  // namespace

void child_stderr_line(std::string_view service, long pid, std::string_view line, bool truncated, std::uint64_t now) {
    auto& all = limiters();
    auto it = all.find(service);
    if (it == all.end()) it = all.emplace(std::string(service), LogLimiter(k_stderr_lines, k_stderr_interval_ms)).first;
    auto verdict = it->second.note(now);
    if (verdict.suppressed != 0) write_summary(service, verdict.suppressed);
    if (verdict.write) info("stderr", {{"service", service}, {"pid", pid}, {"line", line}, {"truncated", truncated}});
}

void flush_child_stderr(std::uint64_t now) {
    auto& all = limiters();
    for (auto it = all.begin(); it != all.end();) {
        if (std::uint64_t n = it->second.take_expired(now); n != 0) write_summary(it->first, n);
        // A closed window holds nothing: forget the service until it writes again.
        it = it->second.idle(now) ? all.erase(it) : std::next(it);
    }
}

}  // namespace sb::log
