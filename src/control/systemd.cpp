// The sd_notify messages of `switchboard run` (see systemd.hpp).
#include "control/systemd.hpp"

#include <cstdint>
#include <cstring>

#include "log/log.hpp"

namespace sb::control {

namespace {

std::string count(std::uint64_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

SystemdNotify::SystemdNotify(const server::ServerControl& server, const char* const* env)
    : server_(server), notifier_(env) {}

std::string SystemdNotify::serving_status(const config::Config& config, const server::StatusSnapshot& status) {
    std::size_t listeners = 0;
    for (const auto& [name, s] : config.services) listeners += s.listen.size();
    return "serving " + count(config.services.size(), "service") + " on " + count(listeners, "listener") + ", " +
           count(status.connections, "connection");
}

std::string SystemdNotify::stopping_status(const server::StatusSnapshot& status) {
    return "stopping; " + count(status.connections, "connection") + " open";
}

std::string SystemdNotify::reload_failed_status(const server::ApplyReport& report) {
    std::string out = "reload failed, the previous configuration runs on";
    if (!report.errors.empty()) {
        out += ": " + report.errors.front();
        if (report.errors.size() > 1) out += " (and " + std::to_string(report.errors.size() - 1) + " more)";
    }
    return out;
}

void SystemdNotify::started(const config::Config& config) {
    if (!notifier_.problem().empty()) log::warning("sd-notify-unusable", {{"error", notifier_.problem()}});
    started_ = true;
    sent("READY", notifier_.ready(serving_status(config, server_.status_snapshot())));
    auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(notifier_.watchdog_interval());
    if (interval.count() <= 0 || watchdog_.init(server_.loop()) != 0) return;
    watchdog_.on_fire([this] { sent("WATCHDOG", notifier_.watchdog()); });
    watchdog_.start(interval, interval);
    // The watchdog alone must not keep the loop alive.
    watchdog_.unref();
    log::info("sd-watchdog", {{"interval", static_cast<double>(interval.count()) / 1000.0}});
}

void SystemdNotify::on_reload_started(std::string_view) {
    if (started_) sent("RELOADING", notifier_.reloading());
}

void SystemdNotify::on_applied(const config::Config& config, const server::ApplyReport&) {
    if (started_) sent("READY", notifier_.ready("reloaded; " + serving_status(config, server_.status_snapshot())));
}

void SystemdNotify::on_reload_failed(const server::ApplyReport& report) {
    if (started_) sent("READY", notifier_.ready(reload_failed_status(report)));
}

void SystemdNotify::on_stopping() {
    if (started_) sent("STOPPING", notifier_.stopping(stopping_status(server_.status_snapshot())));
}

void SystemdNotify::on_closing() {
    started_ = false;
    watchdog_.close();
}

void SystemdNotify::sent(const char* what, int error) {
    if (error == 0 || warned_) return;
    warned_ = true;
    log::warning("sd-notify-failed", {{"message", what}, {"error", std::strerror(error)}});
}

}  // namespace sb::control
