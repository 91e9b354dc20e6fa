// MetricsEndpoint: serves the server's metrics listener (metrics.listen)
// over HTTP. The server binds and accepts (server/metrics_listener.cpp);
// this gives each accepted connection, with its fd-budget lease, to an
// HttpMetricsServer whose render is render_metrics of the current
// snapshots, and closes every HTTP connection when the server closes.
//
// Created by `switchboard run` next to the ControlServer (whose reload
// history the metrics include); it must outlive the server's closing.
// Loop thread only.
#pragma once

#include <memory>

#include "control/control_server.hpp"
#include "control/http_metrics.hpp"
#include "server/server_control.hpp"

namespace sb::control {

class MetricsEndpoint final : public server::ServerObserver {
public:
    // Installs itself as `server`'s metrics handler; add it as an observer too.
    MetricsEndpoint(server::ServerControl& server, const ControlServer& control, HttpLimits limits = {});
    MetricsEndpoint(const MetricsEndpoint&) = delete;
    MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;
    ~MetricsEndpoint() = default;

    void on_applied(const config::Config&, const server::ApplyReport&) override {}
    void on_reload_failed(const server::ApplyReport&) override {}
    void on_dump_requested() override {}
    void on_closing() override { http_.close_all(); }

    [[nodiscard]] const HttpMetricsServer& http() const { return http_; }

private:
    HttpMetricsServer http_;
};

}  // namespace sb::control
