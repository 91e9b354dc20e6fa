// The control protocol: one JSON object per line each way.
//
//   request  {"command":"status"}   {"command":"enable","service":"echo"}
//            {"command":"drain","token":"..."}   (over TCP: see control.token_file)
//   reply    {"ok":true, ...}        {"ok":false,"error":"..."}
//
// This file turns a request line into a Request and plain values into
// reply lines; the JSON library stays inside protocol.cpp. Pure functions,
// any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/state.hpp"

namespace sb::server {
struct ApplyReport;
}

namespace sb::control {

// The longest request line accepted, without its newline.
inline constexpr std::size_t k_max_request = 64 * 1024;

enum class Command { status, services, connections, reload, enable, disable, drain, metrics };

struct Request {
    Command command = Command::status;
    std::string service;  // enable, disable
    // control.token_file's secret, which a state-changing command over TCP
    // needs; empty when not given. Never logged or echoed.
    std::string token;
};

struct ParsedRequest {
    std::optional<Request> request;
    std::string error;  // set exactly when request is not
};

std::string_view command_name(Command command);
std::optional<Command> command_from_name(std::string_view name);
// enable and disable name a service; the other commands take nothing.
bool takes_service(Command command);
// reload, enable, disable and drain change the server; status, services,
// connections and metrics only read it.
bool changes_state(Command command);
// "status, services, ..." for messages.
std::string command_list();

ParsedRequest parse_request(std::string_view line);
// The line `ctl` sends, newline included.
std::string render_request(const Request& request);

// Replies, each one line ending in '\n'.
std::string reply_error(std::string_view message);
std::string reply_status(const StatusView& status);
std::string reply_services(const std::vector<ServiceView>& services);
std::string reply_connections(const std::vector<ConnectionView>& connections);
std::string reply_reload(const server::ApplyReport& report, std::uint64_t generation);
std::string reply_switched(std::string_view service, bool enabled);
std::string reply_drain(std::uint64_t connections);
std::string reply_metrics(std::string_view text);

}  // namespace sb::control
