// `switchboard import`: an inetd.conf or an xinetd configuration becomes a
// switchboard configuration (JSON), plus a list of warnings for what has
// no equivalent. This is the one header the CLI, the tests and the fuzzers
// use; the parsers and the mapping behind it live beside it in src/import/.
//
// Importing is start-up work, never on the event loop: it reads files,
// /etc/services, and resolves the host names it finds (once, here, so the
// configuration written holds addresses only).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace sb::import {

// One thing the imported configuration does differently from the input, or
// leaves out. `unmapped` ones make `--strict` fail; the others are notes
// (a host name that was resolved, say).
struct Warning {
    std::string file;
    int line = 0;
    std::string message;
    bool unmapped = true;

    // "FILE:LINE: warning: MESSAGE" ("error:" for unmapped ones under strict).
    [[nodiscard]] std::string to_string(bool strict = false) const;
};

// Which inetd wrote the file: the two read "tcp" and "tcp6" differently.
enum class Dialect : std::uint8_t { openbsd, inetutils };

// Host name → its addresses (text). Tests and fuzzers pass their own; the
// default asks getaddrinfo.
using HostResolver = std::function<std::vector<std::string>(const std::string& name)>;

// A resolver that reads names from a hosts(5) file instead of asking the
// system (`--hosts FILE`: offline imports, hermetic tests).
HostResolver hosts_file_resolver(const std::string& path);

struct Options {
    std::string services_file = "/etc/services";
    Dialect dialect = Dialect::openbsd;
    HostResolver resolve;          // empty: getaddrinfo
    bool follow_includes = true;   // xinetd include/includedir; the fuzzer turns it off
};

struct Result {
    nlohmann::json config;          // {"services": {...}}
    std::vector<Warning> warnings;  // in input order
    std::string error;              // set when the input could not be read at all

    [[nodiscard]] bool has_unmapped() const;
};

Result import_inetd(const std::string& path, const Options& options = {});
Result import_inetd_text(std::string_view text, const std::string& name, const Options& options = {});
Result import_xinetd(const std::string& path, const Options& options = {});
Result import_xinetd_text(std::string_view text, const std::string& name, const Options& options = {});

// The configuration as written: keys sorted, two-space indent, final newline.
std::string render(const nlohmann::json& config);

}  // namespace sb::import
