// Loading a configuration: read the main file and its includes, validate
// everything, and return either a Config or the complete list of errors.
//
// Loading never throws and never stops at the first problem: `check` and a
// failed reload both show the user every error at once.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/config.hpp"

namespace sb::config {

struct Error {
    std::string file;     // the file the error is in
    std::string pointer;  // JSON pointer, "/services/git/exec/user"; empty for file-level errors
    int line = 0;         // 1-based, 0 when unknown
    int column = 0;
    std::string message;

    // "FILE:LINE:COL: /pointer: message" (parts that are unknown are left out).
    [[nodiscard]] std::string to_string() const;
};

struct LoadOptions {
    // Check what only the real system can tell: programs exist and are
    // executable, users and groups exist, banner files are readable.
    // Tests of pure parsing may turn this off.
    bool check_system = true;
    // `check --offline`: validate only what does not depend on this host
    // (syntax, types, addresses, conflicts, limits). Looks up no user or
    // group, stats no program or directory, reads no banner file; implies
    // check_system = false. Included configuration files are still read.
    bool offline = false;
};

struct LoadResult {
    std::optional<Config> config;  // set exactly when errors is empty
    std::vector<Error> errors;
};

LoadResult load_file(const std::string& path, const LoadOptions& options = {});

// Loads from text, as if it were the file `name` (includes resolve relative
// to name's directory). Used by the fuzzer and the unit tests.
LoadResult load_text(std::string_view text, const std::string& name, const LoadOptions& options = {});

// Durations: a number of seconds (may be fractional) or "250ms", "30s",
// "10m", "2h". Sizes: a number of bytes or "64K", "1M", "2G" (powers of 1024).
std::optional<Duration> parse_duration(std::string_view text, std::string& error);
std::optional<std::uint64_t> parse_size(std::string_view text, std::string& error);

}  // namespace sb::config
