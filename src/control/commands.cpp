// The control commands (see commands.hpp).
#include "control/commands.hpp"

#include "control/metrics.hpp"
#include "net/quote.hpp"
#include "server/server.hpp"

namespace sb::control {

Reply execute(const Request& request, server::Server& server, ReloadHistory& reloads) {
    switch (request.command) {
        case Command::status: return {reply_status(snapshot_status(server, reloads)), {}};
        case Command::services: return {reply_services(snapshot_services(server)), {}};
        case Command::connections: return {reply_connections(snapshot_connections(server)), {}};
        case Command::metrics:
            return {reply_metrics(render_metrics(snapshot_status(server, reloads), snapshot_services(server))), {}};
        case Command::reload: {
            // A success is counted by on_applied, whoever triggered it.
            auto report = server.reload("ctl");
            if (!report.ok()) {
                ++reloads.failed;
                reloads.last_ok = false;
            }
            return {reply_reload(report, server.generation()), {}};
        }
        case Command::enable:
        case Command::disable: {
            bool enable = request.command == Command::enable;
            if (!server.set_enabled(request.service, enable)) {
                return {reply_error("no service named " + net::quote(request.service)), {}};
            }
            return {reply_switched(request.service, enable), {}};
        }
        case Command::drain: {
            if (server.stopping()) return {reply_error("the server is already stopping"), {}};
            return {reply_drain(server.connections().size()), [&server] { server.drain(); }};
        }
    }
    return {reply_error("unknown command"), {}};
}

}  // namespace sb::control
