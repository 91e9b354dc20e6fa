// The log's formatting and its single destination, written without ever
// blocking: a bounded queue of whole lines, and a count of those dropped.
#include "log/log.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include "sys/faults.hpp"

namespace sb::log {
namespace {

// Lines the destination would not take at once wait here, whole, up to
// this many bytes; past it new lines are dropped and counted.
constexpr std::size_t k_queue_limit = 256 * 1024;

struct Destination {
    Format format = Format::text;
    Level level = Level::info;
    Fd file;          // the log file; none: stderr
    Fd stderr_copy;   // stderr (a pipe or terminal) opened again, non-blocking, as a file description of our own
    bool socket = false;  // stderr is a socket (journald): send() with MSG_DONTWAIT
    bool ready = false;   // stderr_copy and socket were worked out
    std::string queue;    // whole lines not yet written, oldest first
    std::uint64_t dropped = 0;             // since start
    std::uint64_t dropped_unreported = 0;  // since the last summary line

    [[nodiscard]] int fd() const { return file ? file.get() : stderr_copy ? stderr_copy.get() : STDERR_FILENO; }
};

Destination& destination() {
    static Destination d;
    return d;
}

// A write to the log must never block the loop. A file never blocks (a
// full disk fails with ENOSPC instead). A pipe or terminal at stderr is
// opened again through /proc with O_NONBLOCK: that makes a new file
// description, so the flag does not leak to whoever shares ours. A socket
// takes MSG_DONTWAIT on each send.
void prepare_stderr(Destination& d) {
    if (d.ready) return;
    d.ready = true;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return;
    if (S_ISSOCK(st.st_mode)) {
        d.socket = true;
    } else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
        d.stderr_copy.reset(::open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    }
}

ssize_t put(const Destination& d, std::string_view bytes) {
    for (;;) {
        // Failures on purpose: a log_write fault (sys/faults.hpp) fails it too.
        ssize_t n = sys::or_fault(sys::Call::log_write, [&] {
            return d.socket && !d.file ? ::send(d.fd(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL)
                                       : ::write(d.fd(), bytes.data(), bytes.size());
        });
        if (n < 0 && errno == EINTR) continue;
        return n;
    }
}

std::uint64_t count_lines(std::string_view bytes) {
    return static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
}

void drop(Destination& d, std::uint64_t lines) {
    d.dropped += lines;
    d.dropped_unreported += lines;
}

// Writes what is queued. True when the queue is empty afterwards. A write
// that fails for good (ENOSPC, EPIPE) drops the queue and counts it.
bool flush_queue(Destination& d) {
    while (!d.queue.empty()) {
        ssize_t n = put(d, d.queue);
        if (n > 0) {
            d.queue.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EAGAIN) return false;
        drop(d, count_lines(d.queue) + (d.queue.back() == '\n' ? 0 : 1));
        d.queue.clear();
        return false;
    }
    return true;
}

void submit(Destination& d, std::string line);

// Once lines could be written again: one line saying how many were lost.
void report_dropped(Destination& d) {
    if (d.dropped_unreported == 0 || !d.queue.empty()) return;
    std::uint64_t lost = d.dropped_unreported;
    d.dropped_unreported = 0;
    submit(d, format_line(d.format, Level::warning, "log-lines-dropped", {{"count", lost}, {"total", d.dropped}}));
}

void submit(Destination& d, std::string line) {
    if (!flush_queue(d)) {
        if (d.queue.size() + line.size() > k_queue_limit) {
            drop(d, 1);
        } else {
            d.queue += line;
        }
        return;
    }
    ssize_t n = put(d, line);
    if (n == static_cast<ssize_t>(line.size())) {
        report_dropped(d);
        return;
    }
    if (n >= 0) {
        d.queue.assign(line, static_cast<std::size_t>(n));  // the tail; lines stay whole for the reader
    } else if (errno == EAGAIN) {
        d.queue = std::move(line);
    } else {
        drop(d, 1);  // nowhere to write it now (a full disk, a closed pipe)
    }
}

std::string_view level_name(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warning: return "warning";
        case Level::error: return "error";
    }
    return "info";
}

void append_timestamp(std::string& out) {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm parts{};
    gmtime_r(&ts.tv_sec, &parts);
    char buf[40];
    std::size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &parts);
    std::snprintf(buf + n, sizeof buf - n, ".%03ldZ", ts.tv_nsec / 1000000);
    out += buf;
}

// The code point of the UTF-8 sequence at s[i], advancing i past it; -1
// (advancing one byte) for a byte that does not start a valid sequence:
// a stray continuation byte, a truncated or overlong sequence, a surrogate
// or a value above U+10FFFF.
long next_code_point(std::string_view s, std::size_t& i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) {
        ++i;
        return c;
    }
    std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (length == 0 || c > 0xF4 || i + length > s.size()) {
        ++i;
        return -1;
    }
    long cp = c & (0x7F >> length);
    for (std::size_t k = 1; k < length; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) {
            ++i;
            return -1;
        }
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    constexpr long k_smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < k_smallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        ++i;
        return -1;
    }
    i += length;
    return cp;
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators:
// whatever a terminal or a log viewer could take as a new line or the start
// of an escape sequence.
bool is_control(long cp) {
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

// A JSON string of `s`, always valid UTF-8: controls are escaped and every
// byte that is not part of a valid UTF-8 sequence becomes U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        std::size_t start = i;
        long cp = next_code_point(s, i);
        if (cp < 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
        } else if (cp == '"') {
            out += "\\\"";
        } else if (cp == '\\') {
            out += "\\\\";
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (is_control(cp)) {
            static constexpr char k_hex[] = "0123456789abcdef";
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) out += k_hex[(cp >> shift) & 0xf];
        } else {
            out.append(s.substr(start, i - start));
        }
    }
    out += '"';
}

// Text values are quoted (as JSON strings) when they would not read back as
// one token, or hold anything but valid UTF-8 without controls, so no value
// can end a line or start an escape sequence.
void append_text_value(std::string& out, std::string_view s) {
    bool plain = !s.empty();
    for (std::size_t i = 0; plain && i < s.size();) {
        long cp = next_code_point(s, i);
        plain = cp > ' ' && cp != '"' && cp != '=' && cp != '\\' && !is_control(cp);
    }
    if (plain) {
        out += s;
    } else {
        append_json_string(out, s);
    }
}

void append_number(std::string& out, const Field& f) {
    char buf[48];
    switch (f.kind()) {
        case Field::Kind::integer: std::snprintf(buf, sizeof buf, "%lld", f.integer()); break;
        case Field::Kind::unsigned_integer: std::snprintf(buf, sizeof buf, "%llu", f.unsigned_integer()); break;
        case Field::Kind::real:
            if (std::isfinite(f.real())) {
                std::snprintf(buf, sizeof buf, "%.3f", f.real());
            } else {
                std::snprintf(buf, sizeof buf, "null");
            }
            break;
        case Field::Kind::boolean: std::snprintf(buf, sizeof buf, "%s", f.integer() ? "true" : "false"); break;
        case Field::Kind::text: buf[0] = '\0'; break;
    }
    out += buf;
}

}  // namespace

std::string format_line(Format format, Level level, std::string_view event, Fields fields) {
    std::string out;
    out.reserve(160);
    if (format == Format::json) {
        out += "{\"ts\":\"";
        append_timestamp(out);
        out += "\",\"level\":\"";
        out += level_name(level);
        out += "\",\"event\":";
        append_json_string(out, event);
        for (const Field& f : fields) {
            out += ',';
            append_json_string(out, f.key());
            out += ':';
            if (f.kind() == Field::Kind::text) {
                append_json_string(out, f.text());
            } else {
                append_number(out, f);
            }
        }
        out += "}\n";
        return out;
    }
    append_timestamp(out);
    out += ' ';
    out += level_name(level);
    out += ' ';
    out += event;
    for (const Field& f : fields) {
        out += ' ';
        out += f.key();
        out += '=';
        if (f.kind() == Field::Kind::text) {
            append_text_value(out, f.text());
        } else {
            append_number(out, f);
        }
    }
    out += '\n';
    return out;
}

std::optional<Prepared> prepare(const Settings& settings, std::string& error) {
    Fd file;
    if (!settings.file.empty()) {
        // O_NONBLOCK: a FIFO named as the log file must not block the loop either.
        file.reset(::open(settings.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0640));
        if (!file) {
            error = "cannot open log file " + settings.file + ": " + std::strerror(errno);
            return std::nullopt;
        }
    }
    return Prepared(settings, std::move(file));
}

void install(Prepared&& prepared) {
    Destination& d = destination();
    (void)flush_queue(d);  // what is left goes to the new destination
    d.file = std::move(prepared.file_);  // closes the previous file
    d.format = prepared.format_;
    d.level = prepared.level_;
}

std::string configure(const Settings& settings) {
    std::string error;
    auto prepared = prepare(settings, error);
    if (!prepared) return error;
    install(std::move(*prepared));
    return {};
}

bool enabled(Level level) { return level >= destination().level; }

void write(Level level, std::string_view event, Fields fields) {
    if (!enabled(level)) return;
    Destination& d = destination();
    prepare_stderr(d);
    // One write per line keeps lines whole even when children share stderr.
    submit(d, format_line(d.format, level, event, fields));
}

void flush() {
    Destination& d = destination();
    prepare_stderr(d);
    if (flush_queue(d)) report_dropped(d);
}

void finish(std::chrono::milliseconds limit) {
    Destination& d = destination();
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!flush_queue(d) && !d.queue.empty()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{d.fd(), POLLOUT, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    }
    report_dropped(d);
    if (!flush_queue(d)) d.queue.clear();  // nobody will write it now
}

std::uint64_t dropped_lines() { return destination().dropped; }

}  // namespace sb::log
