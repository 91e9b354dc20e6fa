// Optimal-string-alignment distance: insertions, deletions, substitutions
// and swaps of neighbours each cost one, which covers the typical typo.
#include "config/suggest.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace sb::config {

namespace {

std::string fold(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c == '-') c = '_';
        out += c;
    }
    return out;
}

std::size_t distance(const std::string& a, const std::string& b) {
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    // Three rolling rows: i-2, i-1, i.
    std::vector<std::size_t> before(m + 1), prev(m + 1), cur(m + 1);
    for (std::size_t j = 0; j <= m; ++j) prev[j] = j;
    for (std::size_t i = 1; i <= n; ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= m; ++j) {
            std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                cur[j] = std::min(cur[j], before[j - 2] + 1);
            }
        }
        std::swap(before, prev);
        std::swap(prev, cur);
    }
    return prev[m];
}

}  // namespace

std::optional<std::string_view> closest_match(std::string_view word, std::span<const std::string_view> candidates) {
    // Typos are short-range; long unrelated words must not be "suggested".
    constexpr std::size_t k_longest_word = 64;
    if (word.empty() || word.size() > k_longest_word) return std::nullopt;
    const std::string folded = fold(word);
    const std::size_t limit = std::clamp<std::size_t>((word.size() + 1) / 3, 1, 3);
    std::optional<std::string_view> best;
    std::size_t best_distance = limit + 1;
    for (std::string_view candidate : candidates) {
        std::size_t d = distance(folded, fold(candidate));
        if (d < best_distance) {
            best = candidate;
            best_distance = d;
        }
    }
    if (best) return best;
    // An abbreviation ("warn" for "warning") when it fits just one candidate.
    if (folded.size() < 3) return std::nullopt;
    for (std::string_view candidate : candidates) {
        if (!fold(candidate).starts_with(folded)) continue;
        if (best) return std::nullopt;
        best = candidate;
    }
    return best;
}

}  // namespace sb::config
