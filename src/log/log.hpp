// The server log: one line per event, "text" (key=value) or "json" lines,
// to stderr (where journald picks it up) or a file.
//
// Writing never blocks the loop (see write()).
//
// The log is the one process-wide object in switchboard: it stands for the
// process's stderr, which is process-wide by nature. Loop thread only, except
// that a vfork-style child never logs (it writes to its own error pipe).
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/fd.hpp"
#include "switchboard/log/settings.hpp"

namespace sb::log {


// One key=value pair. Values are formatted at once, so views may point at
// temporaries of the calling expression.
class Field {
public:
    enum class Kind : std::uint8_t { text, integer, unsigned_integer, real, boolean };

    Field(std::string_view key, std::string_view value) : key_(key), text_(value), kind_(Kind::text) {}
    Field(std::string_view key, const char* value) : key_(key), text_(value), kind_(Kind::text) {}
    Field(std::string_view key, const std::string& value) : key_(key), text_(value), kind_(Kind::text) {}
    Field(std::string_view key, bool value) : key_(key), integer_(value ? 1 : 0), kind_(Kind::boolean) {}
    Field(std::string_view key, double value) : key_(key), real_(value), kind_(Kind::real) {}
    Field(std::string_view key, int value) : key_(key), integer_(value), kind_(Kind::integer) {}
    Field(std::string_view key, long value) : key_(key), integer_(value), kind_(Kind::integer) {}
    Field(std::string_view key, long long value) : key_(key), integer_(value), kind_(Kind::integer) {}
    Field(std::string_view key, unsigned value) : key_(key), unsigned_(value), kind_(Kind::unsigned_integer) {}
    Field(std::string_view key, unsigned long value) : key_(key), unsigned_(value), kind_(Kind::unsigned_integer) {}
    Field(std::string_view key, unsigned long long value)
        : key_(key), unsigned_(value), kind_(Kind::unsigned_integer) {}

    [[nodiscard]] std::string_view key() const { return key_; }
    [[nodiscard]] Kind kind() const { return kind_; }
    [[nodiscard]] std::string_view text() const { return text_; }
    [[nodiscard]] long long integer() const { return integer_; }
    [[nodiscard]] unsigned long long unsigned_integer() const { return unsigned_; }
    [[nodiscard]] double real() const { return real_; }

private:
    std::string_view key_;
    std::string_view text_;
    long long integer_ = 0;
    unsigned long long unsigned_ = 0;
    double real_ = 0;
    Kind kind_;
};

using Fields = std::initializer_list<Field>;

// A destination opened ahead of use: an apply opens the new log file
// before it commits to anything, so a log file that cannot be opened fails
// the reload and changes nothing. Owns the opened file until install()
// takes it; one never installed closes it. Move-only.
class Prepared {
private:
    friend std::optional<Prepared> prepare(const Settings& settings, std::string& error);
    friend void install(Prepared&& prepared);
    Prepared(const Settings& settings, Fd file) : format_(settings.format), level_(settings.level), file_(std::move(file)) {}

    Format format_;
    Level level_;
    Fd file_;  // the log file; none: stderr
};

// Opens what `settings` name (a file, or stderr) without switching to it.
// On failure sets `error` to a sentence naming the file.
[[nodiscard]] std::optional<Prepared> prepare(const Settings& settings, std::string& error);

// Switches format, level and destination to `prepared`, closing the
// previous file. Cannot fail.
void install(Prepared&& prepared);

// prepare() then install(). Returns an error sentence, or empty on success
// (on failure the previous destination stays).
std::string configure(const Settings& settings);

[[nodiscard]] bool enabled(Level level);
// Never blocks: a line the destination cannot take at once waits in a
// bounded queue (written by the next write() or flush()); past the bound it
// is dropped and counted, and one `log-lines-dropped` line says so once
// writing works again.
void write(Level level, std::string_view event, Fields fields = {});
// Writes what waits in the queue, if the destination takes it now. The
// server calls it from a timer.
void flush();
// At exit, off the loop: waits up to `limit` for the queue to be written;
// what is still left then is dropped.
void finish(std::chrono::milliseconds limit);
// Lines dropped since start: the queue was full, or the destination failed.
[[nodiscard]] std::uint64_t dropped_lines();

inline void debug(std::string_view event, Fields fields = {}) { write(Level::debug, event, fields); }
inline void info(std::string_view event, Fields fields = {}) { write(Level::info, event, fields); }
inline void warning(std::string_view event, Fields fields = {}) { write(Level::warning, event, fields); }
inline void error(std::string_view event, Fields fields = {}) { write(Level::error, event, fields); }

// Renders one line without writing it (for tests and the state dump).
std::string format_line(Format format, Level level, std::string_view event, Fields fields);

}  // namespace sb::log
