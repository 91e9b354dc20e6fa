// Fuzz target: arbitrary bytes as a duration ("250ms", "10m"), a size
// ("64K") and an octal mode ("0660"), as an operator writes them in the
// configuration. Parsing must never crash or throw, must give exactly one
// of a value and an error, and every value must be in its documented range.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/units.hpp"
#include "switchboard/config/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::string error;
    if (auto d = sb::config::parse_duration(text, error)) {
        if (!error.empty() || d->count() < 0 || *d > sb::config::k_max_duration) __builtin_trap();
    } else if (error.empty()) {
        __builtin_trap();
    }
    error.clear();
    if (auto s = sb::config::parse_size(text, error)) {
        if (!error.empty()) __builtin_trap();
    } else if (error.empty()) {
        __builtin_trap();
    }
    error.clear();
    if (auto m = sb::config::parse_octal(text, 0777, "mode", "0660", error)) {
        if (!error.empty() || *m > 0777) __builtin_trap();
    } else if (error.empty()) {
        __builtin_trap();
    }
    return 0;
}
