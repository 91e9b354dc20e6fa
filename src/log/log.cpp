// The log's formatting and its single destination.
#include "log/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

namespace sb::log {
namespace {

struct Destination {
    config::LogFormat format = config::LogFormat::text;
    Level level = Level::info;
    int fd = STDERR_FILENO;
};

Destination& destination() {
    static Destination d;
    return d;
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

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

// Text values are quoted when they would not read back as one token.
void append_text_value(std::string& out, std::string_view s) {
    bool plain = !s.empty();
    for (unsigned char c : s) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) {
            plain = false;
            break;
        }
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

std::string format_line(config::LogFormat format, Level level, std::string_view event, Fields fields) {
    std::string out;
    out.reserve(160);
    if (format == config::LogFormat::json) {
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

Prepared::Prepared(Prepared&& other) noexcept
    : format_(other.format_), level_(other.level_), fd_(std::exchange(other.fd_, -1)) {}

Prepared& Prepared::operator=(Prepared&& other) noexcept {
    if (this != &other) {
        Prepared dropped(std::move(*this));  // closes what this held
        format_ = other.format_;
        level_ = other.level_;
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

Prepared::~Prepared() {
    if (fd_ >= 0 && fd_ != STDERR_FILENO) ::close(fd_);
}

std::optional<Prepared> prepare(const config::Log& settings, std::string& error) {
    int fd = STDERR_FILENO;
    if (!settings.file.empty()) {
        fd = ::open(settings.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            error = "cannot open log file " + settings.file + ": " + std::strerror(errno);
            return std::nullopt;
        }
    }
    return Prepared(settings, fd);
}

void install(Prepared&& prepared) {
    Destination& d = destination();
    if (d.fd != STDERR_FILENO) ::close(d.fd);
    d.fd = std::exchange(prepared.fd_, -1);
    d.format = prepared.format_;
    d.level = prepared.level_;
}

std::string configure(const config::Log& settings) {
    std::string error;
    auto prepared = prepare(settings, error);
    if (!prepared) return error;
    install(std::move(*prepared));
    return {};
}

bool enabled(Level level) { return level >= destination().level; }

void write(Level level, std::string_view event, Fields fields) {
    if (!enabled(level)) return;
    const Destination& d = destination();
    std::string line = format_line(d.format, level, event, fields);
    // One write per line keeps lines whole even when children share stderr.
    std::size_t done = 0;
    while (done < line.size()) {
        ssize_t n = ::write(d.fd, line.data() + done, line.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // nowhere to report a broken log; drop the line
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace sb::log
