// Helpers beside parse_duration/parse_size (declared in config/load.hpp)
// that only the loader needs.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "switchboard/config.hpp"

namespace sb::config {

// The longest duration accepted anywhere: a year. Longer is a typo.
inline constexpr Duration k_max_duration{365LL * 24 * 3600 * 1000};

// A duration given as a JSON number of seconds; `shown` is how the number
// was written, for the message.
std::optional<Duration> duration_from_seconds(double seconds, std::string_view shown, std::string& error);

// Octal permission bits written as a string: "0660", "022". `what` and
// `example` shape the message ("invalid umask "99"; expected an octal string
// like "0022"").
std::optional<mode_t> parse_octal(std::string_view text, mode_t max, std::string_view what, std::string_view example,
                                  std::string& error);

}  // namespace sb::config
