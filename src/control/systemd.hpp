// SystemdNotify: what systemd hears from `switchboard run` through
// sd_notify (see sd_notify.hpp), driven from the loop.
//
//  * started(): READY=1 with STATUS=, once the first configuration is
//    served, and the watchdog timer (WATCHDOG=1 every half WATCHDOG_USEC,
//    sent from the loop, so a stuck loop stops it).
//  * every reload, whatever triggered it (SIGHUP, ctl reload, the watcher):
//    RELOADING=1 with MONOTONIC_USEC= when it begins (before the files are
//    read), then READY=1 with STATUS= saying whether it applied or failed.
//    That is the pair Type=notify-reload waits for.
//  * on_stopping(): STOPPING=1 when shutdown or drain begins, with the
//    connections still open in STATUS=.
//  * STATUS= counts services, listeners and open connections, read from the
//    server's status snapshot.
//
// Owns its SdNotifier and one timer; closes the timer when the server
// closes. Created by `switchboard run` after the first apply. Loop thread.
#pragma once

#include <uv.h>

#include <string>
#include <string_view>

#include "control/sd_notify.hpp"
#include "server/server_control.hpp"
#include "uv/timer.hpp"

namespace sb::control {

class SystemdNotify final : public server::ServerObserver {
public:
    // `env`: the environment NOTIFY_SOCKET and WATCHDOG_* come from
    // (environ when null). `server` gives the counts for STATUS=.
    explicit SystemdNotify(const server::ServerControl& server, const char* const* env = nullptr);
    SystemdNotify(const SystemdNotify&) = delete;
    SystemdNotify& operator=(const SystemdNotify&) = delete;
    ~SystemdNotify() = default;

    // The first configuration is served: READY=1, start the watchdog.
    void started(const config::Config& config);

    void on_applied(const config::Config& config, const server::ApplyReport& report) override;
    void on_reload_failed(const server::ApplyReport& report) override;
    void on_dump_requested() override {}
    void on_reload_started(std::string_view trigger) override;
    void on_stopping() override;
    void on_closing() override;

    [[nodiscard]] const SdNotifier& notifier() const { return notifier_; }

    // The STATUS= texts, for people reading `systemctl status`.
    static std::string serving_status(const config::Config& config, const server::StatusSnapshot& status);
    static std::string stopping_status(const server::StatusSnapshot& status);
    static std::string reload_failed_status(const server::ApplyReport& report);

private:
    // Logs a failed send once per kind of message, so a missing receiver
    // cannot flood the log with watchdog failures.
    void sent(const char* what, int error);

    const server::ServerControl& server_;
    SdNotifier notifier_;
    uv::Timer watchdog_;
    bool started_ = false;
    bool warned_ = false;
};

}  // namespace sb::control
