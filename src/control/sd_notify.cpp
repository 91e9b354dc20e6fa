// sd_notify from the protocol (see sd_notify.hpp).
#include "control/sd_notify.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <optional>

extern char** environ;

namespace sb::control {
namespace {

std::optional<std::string_view> lookup(const char* const* env, std::string_view key) {
    for (const char* const* e = env; e != nullptr && *e != nullptr; ++e) {
        std::string_view entry(*e);
        if (entry.size() > key.size() && entry.starts_with(key) && entry[key.size()] == '=') {
            return entry.substr(key.size() + 1);
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> positive_number(std::string_view text) {
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
    return value;
}

}  // namespace

SdNotifier::SdNotifier(const char* const* env) {
    if (env == nullptr) env = environ;
    if (auto usec = lookup(env, "WATCHDOG_USEC")) {
        auto value = positive_number(*usec);
        auto pid = lookup(env, "WATCHDOG_PID");
        auto owner = pid ? positive_number(*pid) : std::nullopt;
        bool ours = !pid || (owner && *owner == static_cast<std::uint64_t>(::getpid()));
        if (value && ours) watchdog_interval_ = std::chrono::microseconds(*value / 2);
    }

    auto path = lookup(env, "NOTIFY_SOCKET");
    if (!path || path->empty()) return;
    if (path->front() != '/' && path->front() != '@') {
        problem_ = "NOTIFY_SOCKET is neither a path nor an abstract name ('@...'): " + std::string(*path);
        return;
    }
    if (path->size() >= sizeof address_.sun_path) {
        problem_ = "NOTIFY_SOCKET is too long for a UNIX socket address";
        return;
    }
    address_.sun_family = AF_UNIX;
    std::memcpy(address_.sun_path, path->data(), path->size());
    std::size_t length = path->size();
    if (path->front() == '@') {
        address_.sun_path[0] = '\0';  // abstract: no terminating NUL counts
    } else {
        ++length;
    }
    address_length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
    fd_.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) problem_ = std::string("cannot create the notify socket: ") + std::strerror(errno);
}

SdNotifier::~SdNotifier() = default;

std::uint64_t SdNotifier::monotonic_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

int SdNotifier::send(std::string_view message) {
    if (!fd_) return 0;
    for (;;) {
        ssize_t n = ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                             reinterpret_cast<const sockaddr*>(&address_), address_length_);
        if (n >= 0) return 0;
        if (errno != EINTR) return errno;
    }
}

int SdNotifier::send_with_status(std::string message, std::string_view status) {
    if (!status.empty()) {
        message += "STATUS=";
        for (char c : status) message += c == '\n' ? ' ' : c;
        message += '\n';
    }
    return send(message);
}

int SdNotifier::ready(std::string_view status) { return send_with_status("READY=1\n", status); }

int SdNotifier::reloading(std::string_view status) {
    return send_with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) + "\n", status);
}

int SdNotifier::stopping(std::string_view status) { return send_with_status("STOPPING=1\n", status); }

int SdNotifier::watchdog() { return send("WATCHDOG=1\n"); }

int SdNotifier::status(std::string_view status) { return send_with_status("", status); }

}  // namespace sb::control
