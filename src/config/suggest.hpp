// "Did you mean ...?": the known word closest to a mistyped one.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace sb::config {

// The candidate closest to `word` (case, '-' and '_' aside, then by edit
// distance with transpositions), when it is close enough to be a typo; else
// the one candidate that starts with `word`, when it is an abbreviation.
std::optional<std::string_view> closest_match(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace sb::config
