// Reading configuration files and turning their text into Documents.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "switchboard/fd.hpp"
#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

namespace {

// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax
// error while ..." -> "syntax error while ..."
std::string nlohmann_reason(const char* what) {
    std::string_view s = what;
    if (auto column = s.find(", column "); column != std::string_view::npos) {
        if (auto colon = s.find(": ", column); colon != std::string_view::npos) return std::string(s.substr(colon + 2));
    }
    if (auto bracket = s.find("] "); bracket != std::string_view::npos) return std::string(s.substr(bracket + 2));
    return std::string(s);
}

}  // namespace

std::optional<std::string> read_file(const std::string& path, std::size_t max_bytes, std::string& error,
                                     struct stat* info) {
    // O_NONBLOCK: a FIFO or device named by mistake must not hang the load.
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
        error = std::strerror(errno);
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        error = std::strerror(errno);
        return std::nullopt;
    }
    if (S_ISDIR(st.st_mode)) {
        error = "it is a directory";
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        error = "it is not a regular file";
        return std::nullopt;
    }
    if (info != nullptr) *info = st;
    std::string out;
    char buf[16384];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = std::strerror(errno);
            return std::nullopt;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_bytes) {
            error = "it is larger than " + std::to_string(max_bytes) + " bytes";
            return std::nullopt;
        }
    }
    return out;
}

std::unique_ptr<Document> parse_document(std::string_view text, const std::string& path, Diagnostics& diag) {
    auto doc = std::make_unique<Document>();
    doc->path = path;
    auto slash = path.rfind('/');
    doc->dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    try {
        doc->root = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        // e.byte counts the characters read, the offending one included.
        std::size_t offset = e.byte > 0 ? e.byte - 1 : 0;
        diag.add(path, "", PositionIndex::position_of(text, offset), "invalid JSON: " + nlohmann_reason(e.what()));
        return nullptr;
    } catch (const nlohmann::json::exception& e) {
        // Number overflow ("1e999") carries the literal but no position.
        std::string_view what = e.what();
        TextPosition at{};
        std::string message = "invalid JSON: " + nlohmann_reason(e.what());
        auto open = what.find('\'');
        auto close = what.rfind('\'');
        if (open != std::string_view::npos && close > open + 1) {
            std::string_view literal = what.substr(open + 1, close - open - 1);
            if (auto found = text.find(literal); found != std::string_view::npos) {
                at = PositionIndex::position_of(text, found);
                message = "invalid JSON: the number " + std::string(literal) + " is out of range";
            }
        }
        diag.add(path, "", at, message);
        return nullptr;
    }
    doc->positions = PositionIndex::build(text);
    for (const auto& dup : doc->positions.duplicates()) {
        diag.add(path, dup.pointer, dup.second,
                 "duplicate key " + net::quote(dup.key) + "; it is also set at line " + std::to_string(dup.first.line) +
                     ", column " + std::to_string(dup.first.column));
    }
    return doc;
}

}  // namespace sb::config
