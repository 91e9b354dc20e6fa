// The metrics listener's HTTP side (see metrics_endpoint.hpp).
#include "control/metrics_endpoint.hpp"

#include "control/metrics.hpp"
#include "control/state.hpp"

namespace sb::control {

MetricsEndpoint::MetricsEndpoint(server::ServerControl& server, const ControlServer& control, HttpLimits limits)
    : http_(server.loop(),
            [&server, &control] {
                return render_metrics(snapshot_status(server, control.history()), snapshot_services(server));
            },
            limits) {
    server.set_metrics_handler([this](Fd fd, server::FdLease lease) {
        // The lease is given back when the exchange has closed the fd.
        auto held = std::make_shared<server::FdLease>(std::move(lease));
        http_.adopt(fd.release(), [held] { held->reset(); });
    });
}

}  // namespace sb::control
