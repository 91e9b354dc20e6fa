// How the log is written: format, level and destination. log/ owns these;
// config/ fills them from the "log" section (config::Log is this type).
#pragma once

#include <cstdint>
#include <string>

namespace sb::log {

enum class Format : std::uint8_t { text, json };
enum class Level : std::uint8_t { debug, info, warning, error };

struct Settings {
    Format format = Format::text;
    Level level = Level::info;
    std::string file;  // empty: stderr

    friend bool operator==(const Settings&, const Settings&) = default;
};

}  // namespace sb::log
