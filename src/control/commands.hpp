// Carrying out control requests on the server: each command reads a
// snapshot or calls one Server operation, and says what to reply.
// Loop thread only.
#pragma once

#include <functional>
#include <optional>
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
    // Hang up once the reply is out, reading nothing more.
    bool close = false;
};

// Delivers a reply that could not be given at once. It runs on the loop
// thread, possibly after the asking connection has gone; it must check.
using AnswerLater = std::function<void(Reply reply)>;

// Carries out `request`. Returns the reply, or nothing when the reply comes
// later through `later`: a reload answers once its configuration has been
// read and applied, or has failed.
std::optional<Reply> execute(const Request& request, server::ServerControl& server, const ControlHistory& history,
                             AnswerLater later);

}  // namespace sb::control
