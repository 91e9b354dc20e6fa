// Metrics in the Prometheus text exposition format (version 0.0.4): one
// HELP and TYPE line per family, then one sample per service (and reason,
// or result). Pure function of the snapshots, any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "control/state.hpp"

namespace sb::control {

std::string render_metrics(const StatusView& status, const std::vector<ServiceView>& services);

// A label value with backslash, double quote and newline escaped.
std::string escape_label(std::string_view value);

}  // namespace sb::control
