// Children's stderr in the log: "stderr service=... pid=... line=..." lines,
// held to a rate per service, so that a child (or a crowd of children of
// one service) writing without end cannot flood the log or crowd out every
// other line. Past k_lines in a k_interval_ms window a service's lines are
// counted instead of written, and one "stderr-suppressed" line gives the
// count once the window is over.
//
// The per-service state lives here, beside the log it protects, keyed by
// service name; a service's entry is dropped once its window has closed.
// Loop thread only; the clock (milliseconds, uv_now) is passed in.
#pragma once

#include <cstdint>
#include <string_view>

namespace sb::log {

inline constexpr std::uint32_t k_stderr_lines = 200;
inline constexpr std::uint64_t k_stderr_interval_ms = 10'000;

void child_stderr_line(std::string_view service, long pid, std::string_view line, bool truncated, std::uint64_t now);

// Writes the summaries of windows that are over by `now` (from a periodic timer).
void flush_child_stderr(std::uint64_t now);

}  // namespace sb::log
