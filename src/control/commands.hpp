// Carrying out control requests on the server: each command reads a
// snapshot or calls one Server operation, and says what to reply.
// Loop thread only.
#pragma once

#include <functional>
#include <string>

#include "control/protocol.hpp"
#include "control/state.hpp"

namespace sb::server {
class Server;
}

namespace sb::control {

struct Reply {
    std::string text;  // one line, newline included
    // Runs once the reply has been handed to the socket: drain may close
    // every handle, the control connections' included, at once.
    std::function<void()> then;
};

// `reloads` records the outcome of a ctl reload.
Reply execute(const Request& request, server::Server& server, ReloadHistory& reloads);

}  // namespace sb::control
