// Server-wide settings: the control socket, logging and global limits.
#include <sys/un.h>

#include <cstring>

#include "config/control_token.hpp"
#include "config/keys.hpp"
#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

using net::quote;

namespace {

bool is_loopback(const net::Endpoint& ep) {
    if (ep.any) return false;
    auto ip = net::IpAddress::parse(ep.host);
    if (!ip) return false;
    if (ip->is_v4() && !ep.host.starts_with("::")) return ip->bytes[12] == 127;
    net::IpAddress v6_loopback;
    v6_loopback.bytes[15] = 1;
    return *ip == v6_loopback;
}

}  // namespace

void read_control(const Node& node, Control& into, LoadContext& context) {
    ObjectReader object(node, keys::control);
    if (!object.valid()) return;
    if (auto socket = object.get("socket")) {
        if (auto path = socket->string()) {
            if (!path->empty() && path->front() != '/') {
                socket->error("the control socket must be an absolute path, or \"\" for none; got " + quote(*path));
            } else if (path->size() >= sizeof(sockaddr_un{}.sun_path)) {
                socket->error("the control socket path is longer than " +
                              std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes");
            } else {
                check_socket_directory(*socket, *path, context);
                into.socket = *path;
            }
        }
    }
    if (auto mode = object.get("mode")) {
        if (auto m = mode->octal(0777, "mode", "0600")) into.mode = *m;
    }
    if (auto group = object.get("group")) into.group = read_gid(*group, context);
    if (auto group = object.get("admin_group")) into.admin_group = read_gid(*group, context);
    if (auto file = object.get("token_file")) {
        if (auto path = file->path_from_document()) {
            into.token_file = *path;
            // Offline there is no file to vet; a server never loads offline.
            std::string why;
            if (!context.options.offline) {
                if (auto token = read_control_token(*path, why)) {
                    into.token = std::move(*token);
                } else {
                    file->error(why);
                }
            }
        }
    }
    if (auto tcp = object.get("tcp")) {
        auto text = tcp->string();
        if (!text) return;
        std::string why;
        auto ep = net::parse_endpoint(*text, why);
        if (!ep) {
            tcp->error(why);
        } else if (ep->transport != net::Transport::tcp) {
            tcp->error("the control address must be tcp://HOST:PORT, got " + quote(*text));
        } else if (!is_loopback(*ep)) {
            tcp->error("the control address must be on loopback (127.0.0.0/8 or [::1]), got " + ep->to_string());
        } else {
            into.tcp = ep;
        }
    }
}

std::optional<Node> read_metrics(const Node& node, Metrics& into) {
    ObjectReader object(node, keys::metrics);
    auto listen = object.get("listen");
    if (!listen) return std::nullopt;
    auto text = listen->string();
    if (!text) return std::nullopt;
    std::string why;
    auto ep = net::parse_endpoint(*text, why);
    if (!ep) {
        listen->error(why);
        return std::nullopt;
    }
    if (ep->transport != net::Transport::tcp) {
        listen->error("the metrics address must be tcp://HOST:PORT, got " + quote(*text));
        return std::nullopt;
    }
    into.listen = ep;
    return listen;
}

void read_log(const Node& node, Log& into) {
    ObjectReader object(node, keys::log);
    if (auto format = object.get("format")) {
        if (auto i = format->choice(keys::log_formats, "log format")) into.format = static_cast<LogFormat>(*i);
    }
    if (auto level = object.get("level")) {
        if (auto i = level->choice(keys::log_levels, "log level")) into.level = static_cast<LogLevel>(*i);
    }
    if (auto file = object.get("file")) {
        if (auto path = file->absolute_path()) into.file = *path;
    }
}

void read_limits(const Node& node, Limits& into) {
    ObjectReader object(node, keys::limits);
    if (auto max = object.get("max_connections")) into.max_connections = max->count().value_or(into.max_connections);
    if (auto max = object.get("max_children")) into.max_children = max->count().value_or(into.max_children);
}

}  // namespace sb::config
