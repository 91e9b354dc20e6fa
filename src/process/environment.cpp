// Building an exec child's environment.
#include "process/environment.hpp"

#include <unistd.h>

#include <string>

namespace sb::process {
namespace {

class Environment {
public:
    explicit Environment(const char* const* server_env) : server_env_(server_env) {}

    // Sets KEY=value, replacing an earlier KEY.
    void set(std::string_view key, std::string_view value) {
        for (auto& entry : entries_) {
            if (has_key(entry, key)) {
                entry.replace(key.size() + 1, std::string::npos, value);
                return;
            }
        }
        std::string entry;
        entry.reserve(key.size() + 1 + value.size());
        entry.append(key).append(1, '=').append(value);
        entries_.push_back(std::move(entry));
    }
    void set(std::string_view key, unsigned long long value) { set(key, std::to_string(value)); }

    [[nodiscard]] std::optional<std::string_view> server(std::string_view key) const {
        for (const char* const* e = server_env_; e != nullptr && *e != nullptr; ++e) {
            std::string_view entry(*e);
            if (has_key(entry, key)) return entry.substr(key.size() + 1);
        }
        return std::nullopt;
    }

    std::vector<std::string> take() { return std::move(entries_); }

private:
    static bool has_key(std::string_view entry, std::string_view key) {
        return entry.size() > key.size() && entry.compare(0, key.size(), key) == 0 && entry[key.size()] == '=';
    }

    const char* const* server_env_;
    std::vector<std::string> entries_;
};

// What systemd hands the server itself (sd_notify, the watchdog, socket
// activation); a child that saw it would talk to systemd as if it were
// the server. Never passed on, even when pass_env names it.
bool is_server_only(std::string_view name) {
    return name == "NOTIFY_SOCKET" || name.starts_with("WATCHDOG_") || name.starts_with("LISTEN_");
}

void set_connection(Environment& env, const ConnectionInfo& c) {
    using Proto = ConnectionInfo::Proto;
    switch (c.proto) {
        case Proto::tcp: env.set("PROTO", "TCP"); break;
        case Proto::udp: env.set("PROTO", "UDP"); break;
        case Proto::unix_stream: env.set("PROTO", "UNIX"); break;
    }
    if (c.proto == Proto::unix_stream) {
        if (c.peer_uid) env.set("UNIXREMOTEEUID", *c.peer_uid);
        if (c.peer_gid) env.set("UNIXREMOTEEGID", *c.peer_gid);
        if (c.peer_pid) env.set("UNIXREMOTEPID", static_cast<unsigned long long>(*c.peer_pid));
        return;
    }
    if (c.proto == Proto::tcp) {
        env.set("TCPREMOTEIP", c.remote_ip);
        env.set("TCPREMOTEPORT", c.remote_port);
        env.set("TCPLOCALIP", c.local_ip);
        env.set("TCPLOCALPORT", c.local_port);
    }
    env.set("REMOTE_ADDR", c.remote_ip);
    env.set("REMOTE_PORT", c.remote_port);
}

}  // namespace

std::vector<std::string> build_environment(const config::Exec& exec, const ConnectionInfo* connection,
                                           std::string_view listen_fd_name, const char* const* server_env) {
    Environment env(server_env != nullptr ? server_env : environ);
    env.set("PATH", env.server("PATH").value_or(k_default_path));
    for (const auto& name : exec.pass_env) {
        if (is_server_only(name)) continue;
        if (auto value = env.server(name)) env.set(name, *value);
    }
    for (const auto& [key, value] : exec.env) env.set(key, value);
    if (connection != nullptr) set_connection(env, *connection);
    if (!listen_fd_name.empty()) {
        env.set("LISTEN_FDS", "1");
        env.set("LISTEN_FDNAMES", listen_fd_name);
    }
    return env.take();
}

}  // namespace sb::process
