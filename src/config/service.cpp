// One service: where it listens, what it does with a connection, and the
// admission rules it adds to (or takes from) "defaults".
#include <algorithm>
#include <iterator>

#include "config/keys.hpp"
#include "config/sections.hpp"
#include "net/quote.hpp"
#include "net/tcpmux_request.hpp"

namespace sb::config {

using net::quote;

namespace {

// Keys people put on the service that belong one level down.
constexpr KeyHint k_service_hints[] = {
    {"argv", "unknown key \"argv\"; it belongs inside \"exec\""},
    {"io", "unknown key \"io\"; it belongs inside \"exec\""},
    {"wait", "unknown key \"wait\"; it belongs inside \"exec\""},
    {"fds", "unknown key \"fds\"; it belongs inside \"exec\""},
    {"user", "unknown key \"user\"; it belongs inside \"exec\""},
    {"group", "unknown key \"group\"; it belongs inside \"exec\" (or \"socket\", for a UNIX socket file)"},
    {"cwd", "unknown key \"cwd\"; it belongs inside \"exec\""},
    {"umask", "unknown key \"umask\"; it belongs inside \"exec\""},
    {"nice", "unknown key \"nice\"; it belongs inside \"exec\""},
    {"rlimits", "unknown key \"rlimits\"; it belongs inside \"exec\""},
    {"env", "unknown key \"env\"; it belongs inside \"exec\""},
    {"pass_env", "unknown key \"pass_env\"; it belongs inside \"exec\""},
    {"backlog", "unknown key \"backlog\"; it belongs inside \"socket\""},
    {"reuse_port", "unknown key \"reuse_port\"; it belongs inside \"socket\""},
    {"v6only", "unknown key \"v6only\"; it belongs inside \"socket\""},
    {"nodelay", "unknown key \"nodelay\"; it belongs inside \"socket\""},
    {"keepalive", "unknown key \"keepalive\"; it belongs inside \"socket\""},
    {"mode", "unknown key \"mode\"; it belongs inside \"socket\""},
    {"owner", "unknown key \"owner\"; it belongs inside \"socket\""},
    {"socket_mode", "unknown key \"socket_mode\"; write \"socket\": {\"mode\": \"0660\"}"},
    {"idle", "unknown key \"idle\"; it belongs inside \"timeouts\""},
    {"max_duration", "unknown key \"max_duration\"; it belongs inside \"timeouts\""},
    {"per_second", "unknown key \"per_second\"; it belongs inside \"rate\" or \"source_rate\""},
    {"name", "unknown key \"name\"; a service's name is its key in \"services\""},
};

bool is_service_name(std::string_view name) {
    auto ok = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (!first && (c == '_' || c == '.' || c == '-'));
    };
    if (name.empty() || name.size() > 64 || !ok(name[0], true)) return false;
    return std::all_of(name.begin() + 1, name.end(), [&](char c) { return ok(c, false); });
}

void read_socket_options(const Node& node, SocketOptions& into, LoadContext& context) {
    ObjectReader object(node, keys::socket);
    if (auto backlog = object.get("backlog")) {
        if (auto n = backlog->unsigned_number(1, 65535)) into.backlog = static_cast<int>(*n);
    }
    if (auto v = object.get("reuse_port")) into.reuse_port = v->boolean().value_or(into.reuse_port);
    if (auto v = object.get("v6only")) into.v6only = v->boolean();
    if (auto v = object.get("nodelay")) into.nodelay = v->boolean().value_or(into.nodelay);
    if (auto v = object.get("keepalive")) into.keepalive = v->boolean().value_or(into.keepalive);
    if (auto mode = object.get("mode")) {
        if (auto m = mode->octal(0777, "mode", "0660")) into.mode = *m;
    }
    if (auto owner = object.get("owner")) into.owner = read_uid(*owner, context);
    if (auto group = object.get("group")) into.group = read_gid(*group, context);
}

// Each entry of "listen" (a string or an array of strings) with its node.
std::vector<Node> listen_entries(const Node& node) {
    if (node.is_string()) return {node};
    if (!node.is_array()) {
        node.type_error("an address string or an array of them");
        return {};
    }
    if (node.json().empty()) node.error("listen needs at least one address");
    return node.elements();
}

// A wait-mode child owns the socket and takes the connections itself, so
// what admission decides per connection cannot be enforced; a key that
// would be silently ignored is an error instead. Over UDP the server still
// sees each datagram's source before the child starts: allow, deny and rate
// apply per datagram. Only the service's own keys are judged; what
// "defaults" sets applies where it can.
void check_wait_admission(const ObjectReader& object, const AdmissionSettings& own, bool udp_only) {
    constexpr std::string_view k_per_datagram[] = {"allow", "deny", "rate", "max_children"};
    for (const std::string& key : own.keys) {
        if (key == "max_children") continue;
        bool per_datagram = std::find(std::begin(k_per_datagram), std::end(k_per_datagram), key) !=
                            std::end(k_per_datagram);
        if (udp_only && per_datagram) continue;
        std::string why = udp_only ? "its child reads the datagrams itself; allow, deny and rate apply per datagram"
                                   : "its child accepts the connections itself";
        object.get(key)->key_error(quote(key) + " does not apply to a service with \"wait\": true: " + why);
    }
}

// "tcpmux": "NAME" or {"name": "NAME", "plus": true}. RFC 1078 names are
// printable ASCII without blanks; "HELP" is the request for the list.
std::optional<Tcpmux> read_tcpmux(const Node& node) {
    Tcpmux out;
    std::optional<Node> name_node;
    if (node.is_string()) {
        name_node = node;
    } else {
        ObjectReader object(node, keys::tcpmux);
        if (!object.valid()) return std::nullopt;
        name_node = object.get("name");
        if (!name_node) {
            node.error("tcpmux needs a \"name\"");
            return std::nullopt;
        }
        if (auto plus = object.get("plus")) out.plus = plus->boolean().value_or(false);
    }
    auto name = name_node->string();
    if (!name) return std::nullopt;
    if (!net::tcpmux_name_well_formed(*name)) {
        name_node->error("invalid tcpmux name " + quote(*name) + "; names are 1-64 printable ASCII characters, no blanks");
        return std::nullopt;
    }
    if (net::same_tcpmux_name(*name, "HELP")) {
        name_node->error("\"HELP\" is tcpmux's request for the list of names, not a service name");
        return std::nullopt;
    }
    out.name = *name;
    return out;
}

}  // namespace

std::optional<Service> read_service(const Node& node, const std::string& name, const AdmissionSettings& defaults,
                                    LoadContext& context, std::vector<ListenSite>& sites) {
    Diagnostics& diag = node.diagnostics();
    const std::size_t errors_before = diag.count();
    if (!is_service_name(name)) {
        node.key_error("invalid service name " + quote(name) +
                       "; names are 1-64 letters, digits, \"_\", \".\" or \"-\", starting with a letter or digit");
    }
    ObjectReader object(node, keys::service, k_service_hints);
    if (!object.valid()) return std::nullopt;

    Service service;
    service.name = name;
    service.file = node.document().path;
    if (auto enabled = object.get("enabled")) service.enabled = enabled->boolean().value_or(true);

    SocketOptions socket_options;
    auto socket = object.get("socket");
    if (socket) read_socket_options(*socket, socket_options, context);

    std::vector<Node> udp_entries;
    bool has_unix = false;
    if (auto listen = object.get("listen")) {
        for (const Node& entry : listen_entries(*listen)) {
            auto text = entry.string();
            if (!text) continue;
            std::string why;
            auto endpoint = net::parse_endpoint(*text, why);
            if (!endpoint) {
                entry.error(why);
                continue;
            }
            Listen l{*endpoint, socket_options};
            if (endpoint->transport == net::Transport::unix_stream && !endpoint->abstract) {
                check_socket_directory(entry, endpoint->host, context);
            }
            if (endpoint->transport == net::Transport::udp) udp_entries.push_back(entry);
            has_unix = has_unix || endpoint->transport == net::Transport::unix_stream;
            service.listen.push_back(l);
            sites.push_back(ListenSite{name, entry, l});
        }
    } else if (!object.has("tcpmux")) {
        node.key_error("service " + quote(name) + " has no \"listen\" address (nor a \"tcpmux\" name)");
    }
    if (socket) check_abstract_socket_options(*socket, service.listen);

    // Exactly one action.
    std::vector<std::string_view> actions;
    for (std::string_view key : {"builtin", "exec", "redirect"}) {
        if (object.has(std::string(key))) actions.push_back(key);
    }
    if (actions.empty()) {
        node.key_error("service " + quote(name) +
                       " needs \"builtin\", \"exec\" or \"redirect\" to say what to do with a connection");
    } else if (actions.size() > 1) {
        object.get(std::string(actions[1]))
            ->key_error("a service has exactly one of \"builtin\", \"exec\" and \"redirect\"; this one has both " +
                        quote(actions[0]) + " and " + quote(actions[1]));
    }
    const Exec* exec = nullptr;
    if (auto builtin = object.get("builtin")) {
        if (auto i = builtin->choice(keys::builtins, "builtin")) service.action = static_cast<Builtin>(*i);
    } else if (auto exec_node = object.get("exec")) {
        if (auto e = read_exec(*exec_node, context)) {
            service.action = std::move(*e);
            exec = std::get_if<Exec>(&service.action);
        }
    } else if (auto redirect_node = object.get("redirect")) {
        if (auto r = read_redirect(*redirect_node)) service.action = std::move(*r);
        for (const Node& entry : udp_entries) {
            entry.error("redirect forwards streams; UDP redirect is out of scope, so a redirect service cannot listen on udp://");
        }
    }

    if (auto proxy = object.get("proxy_protocol")) {
        service.proxy_protocol = read_proxy_accept(*proxy);
        bool wait = exec != nullptr && exec->wait;
        if (wait) {
            proxy->key_error("proxy_protocol does not apply to a service with \"wait\": true: its child accepts the connections itself");
        }
        for (const Listen& l : service.listen) {
            if (l.endpoint.transport != net::Transport::tcp && !wait) {
                proxy->key_error("proxy_protocol applies only to tcp:// listeners; " + quote(l.endpoint.to_string()) +
                                 " is not one");
                break;
            }
        }
    }

    if (auto tcpmux = object.get("tcpmux")) {
        service.tcpmux = read_tcpmux(*tcpmux);
        if ((exec == nullptr || exec->wait) && service.redirect() == nullptr) {
            tcpmux->key_error("tcpmux applies to exec services without \"wait\" and to redirect services: the "
                              "client is handed to one session");
        }
    }
    if (service.builtin() != nullptr && *service.builtin() == Builtin::tcpmux) {
        for (const Node& entry : udp_entries) entry.error("tcpmux is a TCP protocol; it cannot listen on UDP");
    }

    AdmissionSettings own = defaults;
    own.keys.clear();
    own.idle_given = false;
    read_admission(object, own, context);
    service.admission = own.admission;
    service.timeouts = own.timeouts;
    auto given = [&](std::string_view key) { return own.keys.contains(key) || defaults.keys.contains(key); };

    if (exec != nullptr) {
        if (!exec->wait) {
            for (const Node& entry : udp_entries) entry.error("UDP exec services need \"wait\": true");
        } else {
            check_wait_admission(object, own, service.listen.size() == udp_entries.size());
        }
        if (!given("max_connections")) service.admission.max_connections = k_exec_default_max_connections;
        if (!given("max_children")) service.admission.max_children = service.admission.max_connections;
    } else if (own.keys.contains("max_children") && !object.has("exec")) {
        object.get("max_children")->key_error("max_children applies only to exec services");
    }
    // What one source may hold (README "Security"); 0 turns either off.
    if ((exec == nullptr || !exec->wait) && !given("per_source")) {
        service.admission.per_source = k_default_per_source;
    }
    if (service.builtin() != nullptr && !own.idle_given && !defaults.idle_given) {
        service.timeouts.idle = k_builtin_default_idle;
    }
    if (!has_unix && !service.listen.empty()) {
        for (std::string_view key : {"peer_uids", "peer_gids"}) {
            if (own.keys.contains(key)) {
                object.get(std::string(key))->key_error(std::string(key) + " applies only to unix: listeners");
            }
        }
        if (socket) {
            for (std::string_view key : {"mode", "owner", "group"}) {
                if (socket->is_object() && socket->json().contains(key)) {
                    socket->child(std::string(key))
                        .key_error("socket " + std::string(key) + " applies only to unix: listeners");
                }
            }
        }
    }
    if (diag.count() != errors_before) return std::nullopt;
    return service;
}

}  // namespace sb::config
