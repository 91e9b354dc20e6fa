// The forwarding keys: "redirect" (where to forward a service's
// connections, and how) and a service's "proxy_protocol" (the PROXY
// headers its listeners expect from the balancers in front of them).
#include <arpa/inet.h>

#include "config/keys.hpp"
#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

using net::quote;

namespace {

bool is_ip_literal(const std::string& text) {
    unsigned char buf[sizeof(in6_addr)];
    return ::inet_pton(AF_INET, text.c_str(), buf) == 1 || ::inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

}  // namespace

std::optional<ProxyAccept> read_proxy_accept(const Node& node) {
    ObjectReader object(node, keys::proxy_accept);
    if (!object.valid()) return std::nullopt;
    Diagnostics& diag = node.diagnostics();
    const std::size_t errors_before = diag.count();
    ProxyAccept accept;
    if (auto trusted = object.get("trusted")) {
        accept.trusted = read_cidrs(*trusted);
        if (trusted->is_array() && trusted->json().empty()) {
            trusted->error("trusted needs at least one address or prefix: the balancers that send PROXY headers");
        }
    } else {
        node.error("proxy_protocol needs \"trusted\": the addresses of the balancers that send PROXY headers");
    }
    if (auto timeout = object.get("timeout")) {
        if (auto d = timeout->duration()) {
            if (d->count() <= 0) {
                timeout->error("timeout must be longer than 0");
            } else {
                accept.timeout = *d;
            }
        }
    }
    if (diag.count() != errors_before) return std::nullopt;
    return accept;
}

std::optional<Redirect> read_redirect(const Node& node) {
    ObjectReader object(node, keys::redirect);
    if (!object.valid()) return std::nullopt;
    Diagnostics& diag = node.diagnostics();
    const std::size_t errors_before = diag.count();
    Redirect redirect;
    if (auto to = object.get("to")) {
        if (auto text = to->string()) {
            std::string why;
            if (auto endpoint = net::parse_endpoint(*text, why, /*allow_names=*/true)) {
                if (endpoint->transport == net::Transport::udp) {
                    to->error("redirect forwards streams: " + quote(*text) +
                              " is UDP, and UDP redirect is out of scope; use tcp://HOST:PORT or unix:/path");
                } else if (endpoint->any) {
                    to->error("redirect needs a host to connect to, not \"*\"");
                } else {
                    redirect.to = *endpoint;
                }
            } else {
                to->error(why);
            }
        }
    } else {
        node.error("redirect needs \"to\": \"tcp://HOST:PORT\" or \"unix:/path\"");
    }
    if (auto timeout = object.get("connect_timeout")) {
        if (auto d = timeout->duration()) {
            if (d->count() <= 0) {
                timeout->error("connect_timeout must be longer than 0");
            } else {
                redirect.connect_timeout = *d;
            }
        }
    }
    if (auto source = object.get("source")) {
        if (auto text = source->string()) {
            if (!is_ip_literal(*text)) {
                source->error("source must be an IPv4 or IPv6 address literal, got " + quote(*text));
            } else if (redirect.to.transport == net::Transport::unix_stream) {
                source->key_error("source applies only to tcp:// targets");
            } else {
                redirect.source = *text;
            }
        }
    }
    if (auto proxy = object.get("proxy_protocol")) {
        if (auto i = proxy->choice(keys::proxy_versions, "proxy_protocol version")) {
            redirect.proxy_protocol = *i == 0 ? ProxyVersion::v1 : ProxyVersion::v2;
        }
    }
    if (diag.count() != errors_before) return std::nullopt;
    return redirect;
}

}  // namespace sb::config
