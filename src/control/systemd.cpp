// The sd_notify messages of `switchboard run` (see systemd.hpp).
#include "control/systemd.hpp"

#include <cstring>

#include "log/log.hpp"

namespace sb::control {

SystemdNotify::SystemdNotify(uv_loop_t* loop, const char* const* env) : loop_(loop), notifier_(env) {}

std::string SystemdNotify::serving_status(const config::Config& config) {
    std::size_t listeners = 0;
    for (const auto& [name, s] : config.services) listeners += s.listen.size();
    return "serving " + std::to_string(config.services.size()) + " service" +
           (config.services.size() == 1 ? "" : "s") + " on " + std::to_string(listeners) + " listener" +
           (listeners == 1 ? "" : "s");
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
    sent("READY", notifier_.ready(serving_status(config)));
    auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(notifier_.watchdog_interval());
    if (interval.count() <= 0 || watchdog_.init(loop_) != 0) return;
    watchdog_.on_fire([this] { sent("WATCHDOG", notifier_.watchdog()); });
    watchdog_.start(interval, interval);
    // The watchdog alone must not keep the loop alive.
    watchdog_.unref();
    log::info("sd-watchdog", {{"interval", static_cast<double>(interval.count()) / 1000.0}});
}

void SystemdNotify::on_applied(const config::Config& config, const server::ApplyReport&) {
    if (!started_) return;
    sent("RELOADING", notifier_.reloading());
    sent("READY", notifier_.ready("reloaded; " + serving_status(config)));
}

void SystemdNotify::on_reload_failed(const server::ApplyReport& report) {
    if (!started_) return;
    sent("RELOADING", notifier_.reloading());
    sent("READY", notifier_.ready(reload_failed_status(report)));
}

void SystemdNotify::on_closing() {
    if (started_) sent("STOPPING", notifier_.stopping("stopping"));
    started_ = false;
    watchdog_.close();
}

void SystemdNotify::sent(const char* what, int error) {
    if (error == 0 || warned_) return;
    warned_ = true;
    log::warning("sd-notify-failed", {{"message", what}, {"error", std::strerror(error)}});
}

}  // namespace sb::control
