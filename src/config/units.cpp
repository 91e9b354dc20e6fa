// Durations, sizes and octal modes as users write them in the config.
#include "config/units.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include "net/quote.hpp"
#include "switchboard/config/load.hpp"

namespace sb::config {

using net::quote;

namespace {

struct Number {
    double value = 0;
    bool whole = true;            // no fractional part was written
    std::uint64_t integer = 0;    // exact value when `whole` and it fits
    bool integer_fits = true;
    std::string_view unit;
};

// Splits "12.5ms" into 12.5 and "ms". Only plain decimals: digits with an
// optional fraction; no sign, exponent, "inf" or leading dot.
std::optional<Number> split_number(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == 0) return std::nullopt;
    Number n;
    if (i < text.size() && text[i] == '.') {
        std::size_t j = i + 1;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
        if (j == i + 1) return std::nullopt;
        i = j;
        n.whole = false;
    }
    std::string_view digits = text.substr(0, i);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n.value);
    if (ec == std::errc::result_out_of_range) {
        n.value = std::numeric_limits<double>::infinity();
    } else if (ec != std::errc{}) {
        return std::nullopt;
    }
    if (n.whole) {
        auto r = std::from_chars(digits.data(), digits.data() + digits.size(), n.integer);
        n.integer_fits = r.ec == std::errc{};
    }
    n.unit = text.substr(i);
    return n;
}

enum class Range : std::uint8_t { ok, negative, too_long, too_short };

Range check_milliseconds(double ms) {
    if (std::isnan(ms) || ms < 0) return Range::negative;
    if (!std::isfinite(ms) || ms > static_cast<double>(k_max_duration.count())) return Range::too_long;
    if (ms > 0 && ms < 1) return Range::too_short;
    return Range::ok;
}

}  // namespace

namespace {

std::optional<Duration> to_duration(double ms, std::string_view shown, std::string& error) {
    switch (check_milliseconds(ms)) {
        case Range::ok: return Duration{std::llround(ms)};
        case Range::negative: error = "duration " + std::string(shown) + " must not be negative"; break;
        case Range::too_long: error = "duration " + std::string(shown) + " is too long (at most 365 days)"; break;
        case Range::too_short: error = "duration " + std::string(shown) + " must be 0 or at least 1ms"; break;
    }
    return std::nullopt;
}

}  // namespace

std::optional<Duration> duration_from_seconds(double seconds, std::string_view shown, std::string& error) {
    return to_duration(seconds * 1000.0, shown, error);
}

std::optional<Duration> parse_duration(std::string_view text, std::string& error) {
    if (text.empty()) {
        error = "empty duration; expected a number of seconds or a string like \"30s\"";
        return std::nullopt;
    }
    if (text.front() == '-') {
        error = "duration " + quote(text) + " must not be negative";
        return std::nullopt;
    }
    auto n = split_number(text);
    if (!n) {
        error = "invalid duration " + quote(text) + "; expected a number with a unit, like \"250ms\", \"30s\", \"10m\" or \"2h\"";
        return std::nullopt;
    }
    double scale = 0;
    if (n->unit.empty() || n->unit == "s") {
        scale = 1;
    } else if (n->unit == "ms") {
        scale = 0.001;
    } else if (n->unit == "m") {
        scale = 60;
    } else if (n->unit == "h") {
        scale = 3600;
    } else {
        error = "unknown unit " + quote(n->unit) + " in duration " + quote(text) + "; use ms, s, m or h";
        return std::nullopt;
    }
    return to_duration(n->value * scale * 1000.0, quote(text), error);
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error) {
    if (text.empty()) {
        error = "empty size; expected a number of bytes or a string like \"64K\"";
        return std::nullopt;
    }
    if (text.front() == '-') {
        error = "size " + quote(text) + " must not be negative";
        return std::nullopt;
    }
    auto n = split_number(text);
    if (!n) {
        error = "invalid size " + quote(text) + "; expected a number of bytes or a number with a unit, like \"64K\", \"1M\" or \"2G\"";
        return std::nullopt;
    }
    unsigned shift = 0;
    if (n->unit.empty()) {
        shift = 0;
    } else if (n->unit.size() == 1) {
        switch (n->unit[0]) {
            case 'K': case 'k': shift = 10; break;
            case 'M': case 'm': shift = 20; break;
            case 'G': case 'g': shift = 30; break;
            case 'T': case 't': shift = 40; break;
            default: shift = 64; break;
        }
    } else {
        shift = 64;
    }
    if (shift == 64) {
        error = "unknown unit " + quote(n->unit) + " in size " + quote(text) + "; use K, M, G or T (powers of 1024)";
        return std::nullopt;
    }
    if (!n->whole && shift == 0) {
        error = "size " + quote(text) + " is not a whole number of bytes";
        return std::nullopt;
    }
    const std::string too_large = "size " + quote(text) + " is too large";
    if (n->whole) {
        if (!n->integer_fits || (shift > 0 && n->integer > (std::numeric_limits<std::uint64_t>::max() >> shift))) {
            error = too_large;
            return std::nullopt;
        }
        return n->integer << shift;
    }
    double bytes = std::ldexp(n->value, static_cast<int>(shift));
    // 2^64 itself is not representable in uint64; everything below it is
    // after truncation.
    if (!std::isfinite(bytes) || bytes >= 18446744073709551616.0) {
        error = too_large;
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(bytes);
}

std::optional<mode_t> parse_octal(std::string_view text, mode_t max, std::string_view what, std::string_view example,
                                  std::string& error) {
    auto fail = [&] {
        error = "invalid " + std::string(what) + " " + quote(text) + "; expected an octal string like " +
                quote(example);
        return std::nullopt;
    };
    if (text.empty() || text.size() > 5) return fail();
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '7') return fail();
        value = value * 8 + static_cast<unsigned>(c - '0');
    }
    if (value > max) {
        char buf[8];
        auto r = std::to_chars(buf, buf + sizeof buf, static_cast<unsigned>(max), 8);
        error = std::string(what) + " " + quote(text) + " is out of range (at most 0" + std::string(buf, r.ptr) + ")";
        return std::nullopt;
    }
    return static_cast<mode_t>(value);
}

}  // namespace sb::config
