// Reading and vetting the control token file (see control_token.hpp).
#include "config/control_token.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "config/sections.hpp"

namespace sb::config {
namespace {

// Generous for a token and its newline, small enough that a wrong file
// (a log, a key pair) is refused before it is read whole.
constexpr std::size_t k_max_file = 4096;

std::string octal_mode(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
    return buf;
}

}  // namespace

std::optional<std::string> read_control_token(const std::string& path, std::string& error) {
    const std::string what = "the control token file " + path;
    struct stat st {};
    std::string why;
    auto text = read_file(path, k_max_file, why, &st);
    if (!text) {
        error = "cannot read " + what + ": " + why;
        return std::nullopt;
    }
    uid_t self = ::geteuid();
    if (st.st_uid != 0 && st.st_uid != self) {
        error = what + " is owned by uid " + std::to_string(st.st_uid) + "; it must belong to root" +
                (self != 0 ? " or uid " + std::to_string(self) : std::string()) + " (chown root " + path + ")";
        return std::nullopt;
    }
    if ((st.st_mode & 077) != 0) {
        error = what + " has mode " + octal_mode(st.st_mode) +
                ", so its group or others may read or change it; make it readable by its owner only (chmod 600 " +
                path + ")";
        return std::nullopt;
    }
    std::string token = text->substr(0, text->find('\n'));
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
    for (char c : token) {
        if (c < 0x21 || c > 0x7e) {
            error = what + " must hold the token on its first line as printable ASCII without spaces";
            return std::nullopt;
        }
    }
    if (token.size() < k_min_token_length || token.size() > k_max_token_length) {
        error = what + " holds a token of " + std::to_string(token.size()) + " characters; it needs " +
                std::to_string(k_min_token_length) + " to " + std::to_string(k_max_token_length) +
                " (for example: head -c 32 /dev/urandom | base64 > " + path + ")";
        return std::nullopt;
    }
    return token;
}

}  // namespace sb::config
