// `switchboard ctl`: the control socket's client. It sends one request,
// prints the reply as a table (or the raw JSON line with --json), and exits
// 0 when the server said ok, 1 when the server could not be reached or
// answered nonsense, 2 on a usage error or when the server said no.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/fd.hpp"
#include "cli/cli.hpp"
#include "config/control_token.hpp"
#include "net/peer_credentials.hpp"
#include "control/protocol.hpp"
#include "control/table.hpp"
#include "switchboard/config/load.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::cli {
namespace {

constexpr int k_timeout_seconds = 60;
constexpr std::size_t k_max_reply = 256u * 1024 * 1024;

constexpr const char* k_ctl_usage =
    "usage: switchboard ctl [-s SOCKET | -c FILE] [--json] COMMAND [NAME]\n"
    "\n"
    "commands:\n"
    "  status          version, uptime, configuration, connection and child counts\n"
    "  services        every service: state, listeners, counters\n"
    "  connections     every open connection: service, peer, age, bytes, child\n"
    "  metrics         the metrics in Prometheus text format\n"
    "  reload          read the configuration again and apply it (errors are listed, nothing changes)\n"
    "  enable NAME     resume accepting for a service\n"
    "  disable NAME    stop accepting for a service (open connections go on)\n"
    "  drain           stop accepting everywhere; exit once every connection has finished\n"
    "\n"
    "  -s, --socket SOCKET  the control socket: a path, or tcp://127.0.0.1:PORT\n"
    "  -c, --config FILE    use the control socket FILE configures\n"
    "  without either: the control socket of $SWITCHBOARD_CONFIG or " SWITCHBOARD_DEFAULT_CONFIG "\n"
    "  when that file exists and loads, else /run/switchboard/control.sock\n"
    "  --json               print the server's reply as one JSON line\n"
    "\n"
    "reload, enable, disable and drain need root, the server's user or control.admin_group; over TCP\n"
    "they need the token of control.token_file, which ctl reads from the configuration (-c, or the\n"
    "default) and sends only to the TCP address that configuration names.\n";

int usage_error(const std::string& message) {
    std::fprintf(stderr, "switchboard ctl: %s\n%s", message.c_str(), k_ctl_usage);
    return 2;
}

// The control section of `config_path`. `quiet`: say nothing, for the
// implicit default configuration.
std::optional<config::Control> control_from_config(const std::string& config_path, bool quiet) {
    config::LoadOptions options;
    options.offline = true;  // the control section is all we want: ask NSS nothing, read no token yet
    auto loaded = config::load_file(config_path, options);
    if (!loaded.config) {
        if (quiet) return std::nullopt;
        for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "switchboard ctl: cannot read the control socket from %s\n", config_path.c_str());
        return std::nullopt;
    }
    return loaded.config->control;
}

// The socket `control` configures: its UNIX socket, else its TCP address.
std::optional<std::string> socket_of(const config::Control& control, const std::string& config_path, bool quiet) {
    if (!control.socket.empty()) return control.socket;
    if (control.tcp) return control.tcp->to_string();
    if (!quiet) std::fprintf(stderr, "switchboard ctl: %s configures no control socket\n", config_path.c_str());
    return std::nullopt;
}

// A connected, blocking socket, or -1 with `error` set.
Fd connect_to(const std::string& target, std::string& error) {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_UNIX;
    if (target.starts_with("tcp://")) {
        std::string why;
        auto ep = net::parse_endpoint(target, why);
        auto addr = ep ? ep->literal_address() : std::nullopt;
        if (!addr || ep->transport != net::Transport::tcp || ep->any) {
            error = why.empty() ? "not a tcp://HOST:PORT address with a literal host" : why;
            errno = EINVAL;
            return Fd();
        }
        storage = addr->storage;
        length = addr->length;
        family = addr->family();
    } else {
        auto* sun = reinterpret_cast<sockaddr_un*>(&storage);
        sun->sun_family = AF_UNIX;
        if (target.empty() || target.size() >= sizeof sun->sun_path) {
            error = target.empty() ? "an empty path" : "the path is too long for a UNIX socket";
            return Fd();
        }
        std::memcpy(sun->sun_path, target.data(), target.size());
        length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.size() + 1);
    }
    Fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = std::strerror(errno);
        return fd;
    }
    timeval tv{};
    tv.tv_sec = k_timeout_seconds;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&storage), length) != 0) {
        error = std::strerror(errno);
        return Fd();
    }
    // Whoever could put a socket at that path (before the server started,
    // or in a directory they can write to) would hear our requests, and
    // their replies would be believed: talk only to a server run by root
    // or by ourselves.
    if (family == AF_UNIX) {
        auto peer = net::peer_credentials(fd.get());
        if (!peer) {
            error = "cannot tell who serves it (SO_PEERCRED failed)";
            return Fd();
        }
        if (peer->uid != 0 && peer->uid != ::geteuid()) {
            error = "it is served by uid " + std::to_string(peer->uid) + " (pid " + std::to_string(peer->pid) +
                    "), neither root nor you; refusing to talk to it (run ctl as the server's user)";
            return Fd();
        }
    }
    return fd;
}

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// One reply line, without its newline; nullopt with `error` set on failure.
std::optional<std::string> read_line(int fd, std::string& error) {
    std::string reply;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = errno == EAGAIN || errno == EWOULDBLOCK
                        ? "no reply within " + std::to_string(k_timeout_seconds) + "s"
                        : std::string(std::strerror(errno));
            return std::nullopt;
        }
        if (n == 0) {
            if (reply.empty()) {
                error = "the server closed the connection without a reply";
                return std::nullopt;
            }
            return reply;  // a last line without its newline
        }
        std::string_view chunk(buf, static_cast<std::size_t>(n));
        if (auto nl = chunk.find('\n'); nl != std::string_view::npos) {
            reply.append(chunk.substr(0, nl));
            return reply;
        }
        reply.append(chunk);
        if (reply.size() > k_max_reply) {
            error = "the reply is larger than " + std::to_string(k_max_reply) + " bytes";
            return std::nullopt;
        }
    }
}

}  // namespace

int ctl(int argc, char** argv) {
    std::optional<std::string> socket;
    std::optional<std::string> config_path;
    bool json = false;
    std::vector<std::string> words;
    for (int i = 0; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "-s" || arg == "--socket" || arg == "-c" || arg == "--config") {
            if (i + 1 >= argc) return usage_error(std::string(arg) + " needs a value");
            (arg == "-s" || arg == "--socket" ? socket : config_path) = argv[++i];
        } else if (arg.starts_with("--socket=")) {
            socket = std::string(arg.substr(9));
        } else if (arg.starts_with("--config=")) {
            config_path = std::string(arg.substr(9));
        } else if (arg == "--json") {
            json = true;
        } else if (arg == "-h" || arg == "--help") {
            std::fputs(k_ctl_usage, stdout);
            return 0;
        } else if (arg.size() > 1 && arg.front() == '-') {
            return usage_error("unknown option '" + std::string(arg) + "'");
        } else {
            words.emplace_back(arg);
        }
    }
    if (words.empty()) return usage_error("a command is required");
    auto command = control::command_from_name(words[0]);
    if (!command) return usage_error("unknown command '" + words[0] + "'; expected one of " + control::command_list());
    control::Request request;
    request.command = *command;
    if (control::takes_service(*command)) {
        if (words.size() != 2) return usage_error(words[0] + " needs exactly one service NAME");
        request.service = words[1];
    } else if (words.size() != 1) {
        return usage_error(words[0] + " takes no arguments");
    }
    if (socket && config_path) return usage_error("give -s or -c, not both");
    // Where the socket is: -s, else -c's control socket, else the default
    // configuration's (when that file exists and loads), else the default.
    std::string source = "-s";
    std::optional<config::Control> section;
    if (config_path) {
        section = control_from_config(*config_path, false);
        if (section) socket = socket_of(*section, *config_path, false);
        if (!socket) return 2;
        source = *config_path;
    } else if (!socket || (socket->starts_with("tcp://") && control::changes_state(request.command))) {
        // The default configuration names the socket, or the token for -s's TCP address.
        std::string fallback = default_config();
        if (::access(fallback.c_str(), F_OK) == 0) section = control_from_config(fallback, true);
        if (!socket) {
            if (section) socket = socket_of(*section, fallback, true);
            source = socket ? fallback : "the default";
        }
    }
    std::string target = socket.value_or(config::Control().socket);
    // Over TCP a state change needs the token of control.token_file; it is
    // sent only to the TCP address the same configuration names, never to
    // another port someone else may be listening on.
    if (target.starts_with("tcp://") && control::changes_state(request.command) && section &&
        !section->token_file.empty() && section->tcp && section->tcp->to_string() == target) {
        std::string error;
        auto token = config::read_control_token(section->token_file, error);
        if (!token) {
            std::fprintf(stderr, "switchboard ctl: %s\n", error.c_str());
            return 2;
        }
        request.token = std::move(*token);
    }

    std::string error;
    Fd fd = connect_to(target, error);
    if (!fd) {
        std::fprintf(stderr, "switchboard ctl: cannot connect to the control socket %s (from %s): %s\n",
                     target.c_str(), source.c_str(), error.c_str());
        return 1;
    }
    // A server that turns the connection away says why and hangs up, maybe
    // before the request is out: its reason is still there to read.
    bool sent = send_all(fd.get(), control::render_request(request));
    int send_error = errno;
    std::optional<std::string> reply = read_line(fd.get(), error);
    if (!sent && !reply) error = std::strerror(send_error);
    fd.reset();
    if (!reply) {
        std::fprintf(stderr, "switchboard ctl: %s: %s\n", target.c_str(), error.c_str());
        return 1;
    }

    auto human = control::render_human(request.command, *reply);
    using Verdict = control::HumanReply::Verdict;
    if (json) {
        std::fwrite(reply->data(), 1, reply->size(), stdout);
        std::fputc('\n', stdout);
    } else {
        std::fwrite(human.out.data(), 1, human.out.size(), stdout);
    }
    if (!human.ok() && (!json || human.verdict == Verdict::malformed)) {
        std::fprintf(stderr, "switchboard ctl: %s", human.err.c_str());
    }
    std::fflush(stdout);
    // A reply that is not the protocol's means we did not reach a switchboard.
    return human.ok() ? 0 : human.verdict == Verdict::refused ? 2 : 1;
}

}  // namespace sb::cli
