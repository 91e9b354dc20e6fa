// The validated configuration: plain value types, no JSON.
//
// config/ turns the JSON files into a Config; everything after that (the
// server, the reload planner, the control socket) reads only these structs.
// Defaults written here are the documented defaults; the loader fills every
// field, so a consumer never has to guess.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "switchboard/net/cidr.hpp"
#include "switchboard/net/endpoint.hpp"
#include "switchboard/log/settings.hpp"
#include "switchboard/net/listen.hpp"
#include "switchboard/process/attributes.hpp"

namespace sb::config {

using Duration = std::chrono::milliseconds;

// A listener's endpoint and socket options are net/'s own structs
// (switchboard/net/listen.hpp); the configuration uses them as they are.
using SocketOptions = net::SocketOptions;
using Listen = net::Listen;

// tcpmux (RFC 1078) reads a service name and hands the client to the
// service that answers to it (Service::tcpmux).
enum class Builtin : std::uint8_t { echo, discard, chargen, daytime, time, tcpmux };

// A service reachable through tcpmux: its name there (compared without
// regard to case) and whether switchboard answers "+" before handing over
// (otherwise the program answers itself).
struct Tcpmux {
    std::string name;
    bool plus = false;

    friend bool operator==(const Tcpmux&, const Tcpmux&) = default;
};

enum class IoMode : std::uint8_t { splice, socket };
enum class FdStyle : std::uint8_t { inetd, systemd };

// Child processes' attributes are process/'s structs
// (switchboard/process/attributes.hpp); an "exec" section adds what only
// the server needs.
using Rlimit = process::Rlimit;
using Credentials = process::Credentials;

struct Exec : process::ProcessAttributes {
    IoMode io = IoMode::splice;
    bool wait = false;
    FdStyle fds = FdStyle::inetd;  // wait mode: where the listening socket goes
    // After the client is gone: SIGTERM after `grace`, SIGKILL one more `grace` later.
    Duration grace{5000};

    friend bool operator==(const Exec&, const Exec&) = default;
};

// PROXY protocol header versions (haproxy's proxy-protocol.txt).
enum class ProxyVersion : std::uint8_t { none, v1, v2 };

// "redirect": forward each connection to `to`, a tcp:// (literal or name,
// resolved at connect time) or unix: endpoint.
struct Redirect {
    net::Endpoint to;
    Duration connect_timeout{5000};  // per address tried
    std::string source;              // local IP literal to connect from; empty: the kernel's choice
    ProxyVersion proxy_protocol = ProxyVersion::none;

    friend bool operator==(const Redirect&, const Redirect&) = default;
};

struct Rate {
    double per_second = 0;  // 0: no limit
    double burst = 0;

    [[nodiscard]] bool enabled() const { return per_second > 0; }
    friend bool operator==(const Rate&, const Rate&) = default;
};

enum class OnLimit : std::uint8_t { pause, reject };

// Text sent to a client: literal, or read from a file at load time.
struct Banner {
    std::string text;
    std::string file;  // where it came from, for messages; empty when literal

    [[nodiscard]] bool empty() const { return text.empty(); }
    friend bool operator==(const Banner&, const Banner&) = default;
};

inline constexpr std::uint32_t k_unlimited = 0;

struct Admission {
    std::vector<net::Cidr> allow;  // empty: everyone not denied
    std::vector<net::Cidr> deny;
    std::vector<uid_t> peer_uids;  // UNIX sockets: SO_PEERCRED must match one, if any given
    std::vector<gid_t> peer_gids;
    std::uint32_t max_connections = k_unlimited;
    OnLimit on_limit = OnLimit::pause;
    std::uint32_t per_source = k_unlimited;
    unsigned source_prefix_v4 = 32;   // how per_source and source_rate group peers
    unsigned source_prefix_v6 = 128;
    Rate rate;         // per service; for UDP, per datagram
    Rate source_rate;  // per source
    std::uint32_t max_children = k_unlimited;  // exec only
    bool allow_reflection = false;  // UDP built-ins: answer sources with port < 1024
    Banner banner, banner_success, banner_fail;

    friend bool operator==(const Admission&, const Admission&) = default;
};

struct Timeouts {
    Duration idle{0};          // 0: none
    Duration max_duration{0};  // 0: none

    friend bool operator==(const Timeouts&, const Timeouts&) = default;
};

// "proxy_protocol" on a service: its listeners sit behind a balancer, and
// every connection starts with a PROXY header from one of `trusted`.
struct ProxyAccept {
    std::vector<net::Cidr> trusted;
    Duration timeout{3000};  // for the whole header to arrive

    friend bool operator==(const ProxyAccept&, const ProxyAccept&) = default;
};

struct Service {
    std::string name;
    std::string file;  // the config file that defined it
    std::vector<Listen> listen;  // may be empty for a service reachable only through tcpmux
    std::variant<Builtin, Exec, Redirect> action;
    std::optional<Tcpmux> tcpmux;
    Admission admission;
    Timeouts timeouts;
    std::optional<ProxyAccept> proxy_protocol;
    bool enabled = true;

    [[nodiscard]] const Exec* exec() const { return std::get_if<Exec>(&action); }
    [[nodiscard]] const Builtin* builtin() const { return std::get_if<Builtin>(&action); }
    [[nodiscard]] const Redirect* redirect() const { return std::get_if<Redirect>(&action); }
    friend bool operator==(const Service&, const Service&) = default;
};

// The log's settings are log/'s (switchboard/log/settings.hpp).
using LogFormat = log::Format;
using LogLevel = log::Level;
using Log = log::Settings;

struct Control {
    std::string socket = "/run/switchboard/control.sock";  // empty: no control socket
    mode_t mode = 0600;
    std::optional<gid_t> group;        // may connect: read-only commands
    std::optional<gid_t> admin_group;  // may connect and change state (with root and the server's uid)
    std::optional<net::Endpoint> tcp;  // loopback only
    std::string token_file;            // empty: state changes over TCP are refused
    std::string token;                 // token_file's secret, read at load; never logged

    friend bool operator==(const Control&, const Control&) = default;
};

// Prometheus scraping over HTTP: `GET /metrics` on `listen` (tcp only).
// Unset: the metrics are only behind the control socket (`ctl metrics`).
struct Metrics {
    std::optional<net::Endpoint> listen;

    friend bool operator==(const Metrics&, const Metrics&) = default;
};

struct Limits {
    std::uint32_t max_connections = k_unlimited;  // all services together
    std::uint32_t max_children = 1024;            // all exec services together

    friend bool operator==(const Limits&, const Limits&) = default;
};

// Documented defaults for exec services, whose children are expensive.
inline constexpr std::uint32_t k_exec_default_max_connections = 256;
// Documented defaults that bound what one client can hold (README
// "Security"): concurrent connections per source address for built-in and
// exec services (not wait-mode ones, whose child accepts), as s6-tcpserver
// does; and an idle timeout for built-ins, whose silent connections would
// otherwise be held forever.
inline constexpr std::uint32_t k_default_per_source = 40;
inline constexpr Duration k_builtin_default_idle = std::chrono::minutes(5);
// What one source gets from a UDP built-in, per datagram, when the service
// sets no source_rate of its own: enough for any real client, too little
// for a loop through another host or amplification to matter.
inline constexpr Rate k_builtin_datagram_source_rate{10, 20};

struct Config {
    std::string file;                 // the main file, absolute
    std::vector<std::string> files;   // every file read (main first)
    std::vector<std::string> watch_dirs;  // directories holding them or matched by includes
    // Directories an include pattern points into that did not exist at
    // load time; their nearest existing ancestor is in watch_dirs, so the
    // watcher sees them appear.
    std::vector<std::string> awaited_dirs;
    bool watch = false;
    Control control;
    Metrics metrics;
    Log log;
    Limits limits;
    Duration shutdown_grace{10000};
    Duration drain_grace{30000};
    std::map<std::string, Service> services;
};

}  // namespace sb::config
