// sd_notify(3) without libsystemd: the documented protocol is one datagram
// of "KEY=VALUE\n" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET
// (a path, or an abstract name written with a leading '@').
//
// SdNotifier reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once, at
// construction, and owns one non-blocking datagram socket (CLOEXEC), so a
// send never blocks the loop: a full or absent receiver is an error value.
// Without NOTIFY_SOCKET (not started by systemd) every send is a no-op.
// Any thread; not thread-safe.
#pragma once

#include "switchboard/fd.hpp"
#include <sys/socket.h>
#include <sys/un.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sb::control {

class SdNotifier {
public:
    // `env` is the environment to read (environ when null).
    explicit SdNotifier(const char* const* env = nullptr);
    SdNotifier(const SdNotifier&) = delete;
    SdNotifier& operator=(const SdNotifier&) = delete;
    ~SdNotifier();

    // NOTIFY_SOCKET was set to a usable address and the socket exists.
    [[nodiscard]] bool enabled() const { return fd_.valid(); }
    // Why NOTIFY_SOCKET is not used although it was set (empty otherwise).
    [[nodiscard]] const std::string& problem() const { return problem_; }
    // How often to send WATCHDOG=1: half of WATCHDOG_USEC, when that is set
    // and WATCHDOG_PID is unset or this process; zero when there is no
    // watchdog.
    [[nodiscard]] std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

    // Each returns 0 when sent (or when disabled), else an errno value
    // (EAGAIN: the receiver's queue is full; ECONNREFUSED/ENOENT: nobody
    // listens). `status` adds a STATUS= line when not empty; newlines in it
    // become spaces.
    int ready(std::string_view status = {});
    // RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC in µs), as
    // Type=notify-reload requires.
    int reloading(std::string_view status = {});
    int stopping(std::string_view status = {});
    int watchdog();
    int status(std::string_view status);
    // A raw message ("KEY=VALUE\n..."), for what the helpers do not cover.
    int send(std::string_view message);

    // CLOCK_MONOTONIC in microseconds, as MONOTONIC_USEC= wants it.
    static std::uint64_t monotonic_usec();

private:
    int send_with_status(std::string message, std::string_view status);

    Fd fd_;
    sockaddr_un address_{};
    socklen_t address_length_ = 0;
    std::string problem_;
    std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace sb::control
