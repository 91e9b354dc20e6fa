// The control commands (see commands.hpp).
#include "control/commands.hpp"

#include "control/metrics.hpp"
#include "net/quote.hpp"
#include "server/server_control.hpp"

namespace sb::control {

std::optional<Reply> execute(const Request& request, server::ServerControl& server, const ControlHistory& history,
                             AnswerLater later) {
    switch (request.command) {
        case Command::status: return Reply{reply_status(snapshot_status(server, history)), {}};
        case Command::services: return Reply{reply_services(snapshot_services(server)), {}};
        case Command::connections: return Reply{reply_connections(snapshot_connections(server)), {}};
        case Command::metrics:
            return Reply{reply_metrics(render_metrics(snapshot_status(server, history), snapshot_services(server))),
                         {}};
        case Command::reload: {
            if (server.stopping()) {
                server::ApplyReport refused;
                refused.errors.emplace_back("the server is shutting down");
                return Reply{reply_reload(refused, server.generation()), {}};
            }
            // Counted (success or failure) by the ControlServer as a
            // ServerObserver, whoever triggered the reload.
            server.reload("ctl", [&server, later = std::move(later)](const server::ApplyReport& report) {
                later(Reply{reply_reload(report, server.generation()), {}});
            });
            return std::nullopt;
        }
        case Command::enable:
        case Command::disable: {
            bool enable = request.command == Command::enable;
            if (!server.set_enabled(request.service, enable)) {
                return Reply{reply_error("no service named " + net::quote(request.service)), {}};
            }
            return Reply{reply_switched(request.service, enable), {}};
        }
        case Command::drain: {
            if (server.stopping()) return Reply{reply_error("the server is already stopping"), {}};
            return Reply{reply_drain(server.connection_count()), [&server] { server.drain(); }};
        }
    }
    return Reply{reply_error("unknown command"), {}};
}

}  // namespace sb::control
