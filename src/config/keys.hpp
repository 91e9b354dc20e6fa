// Every key the configuration accepts, by the object it appears in.
//
// The readers use these lists to report unknown keys, and the schema test
// compares them with config/switchboard.schema.json, so the two cannot drift.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>

namespace sb::config::keys {

using Keys = std::string_view;

inline constexpr std::array top = {
    Keys{"$schema"}, Keys{"control"},        Keys{"metrics"},     Keys{"log"},      Keys{"limits"},
    Keys{"defaults"}, Keys{"include"},       Keys{"watch"},       Keys{"shutdown_grace"}, Keys{"drain_grace"},
    Keys{"services"},
};
// An included file holds services only.
inline constexpr std::array included = {Keys{"$schema"}, Keys{"services"}};

inline constexpr std::array control = {Keys{"socket"}, Keys{"mode"},       Keys{"group"},
                                       Keys{"tcp"},    Keys{"admin_group"}, Keys{"token_file"}};
inline constexpr std::array metrics = {Keys{"listen"}};
inline constexpr std::array log = {Keys{"format"}, Keys{"level"}, Keys{"file"}};
inline constexpr std::array limits = {Keys{"max_connections"}, Keys{"max_children"}};

// The service keys that "defaults" may set too.
inline constexpr std::array admission = {
    Keys{"allow"},          Keys{"deny"},        Keys{"peer_uids"},   Keys{"peer_gids"},
    Keys{"max_connections"}, Keys{"on_limit"},   Keys{"per_source"},  Keys{"source_prefix"},
    Keys{"rate"},           Keys{"source_rate"}, Keys{"max_children"}, Keys{"allow_reflection"},
    Keys{"banner"},         Keys{"banner_success"}, Keys{"banner_fail"}, Keys{"timeouts"},
};
// The keys only a service itself may set.
inline constexpr std::array service_only = {
    Keys{"listen"}, Keys{"socket"}, Keys{"builtin"}, Keys{"exec"}, Keys{"redirect"}, Keys{"enabled"},
    Keys{"tcpmux"}, Keys{"proxy_protocol"},
};
inline constexpr std::array tcpmux = {Keys{"name"}, Keys{"plus"}};

template <std::size_t N, std::size_t M>
constexpr std::array<Keys, N + M> join(const std::array<Keys, N>& a, const std::array<Keys, M>& b) {
    std::array<Keys, N + M> out{};
    for (std::size_t i = 0; i < N; ++i) out[i] = a[i];
    for (std::size_t i = 0; i < M; ++i) out[N + i] = b[i];
    return out;
}
inline constexpr auto service = join(service_only, admission);

inline constexpr std::array socket = {
    Keys{"backlog"}, Keys{"reuse_port"}, Keys{"v6only"}, Keys{"nodelay"},
    Keys{"keepalive"}, Keys{"mode"},     Keys{"owner"},  Keys{"group"},
};
inline constexpr std::array exec = {
    Keys{"argv"},  Keys{"io"},   Keys{"wait"},    Keys{"fds"},     Keys{"user"},
    Keys{"group"}, Keys{"cwd"},  Keys{"umask"},   Keys{"nice"},    Keys{"rlimits"},
    Keys{"no_new_privileges"}, Keys{"new_session"}, Keys{"env"}, Keys{"pass_env"}, Keys{"grace"},
};
inline constexpr std::array redirect = {Keys{"to"}, Keys{"connect_timeout"}, Keys{"source"},
                                        Keys{"proxy_protocol"}};
inline constexpr std::array proxy_accept = {Keys{"trusted"}, Keys{"timeout"}};
inline constexpr std::array rlimits = {Keys{"nofile"}, Keys{"nproc"}, Keys{"as"},
                                       Keys{"cpu"},    Keys{"core"},  Keys{"fsize"}};
inline constexpr std::array rate = {Keys{"per_second"}, Keys{"burst"}};
inline constexpr std::array source_prefix = {Keys{"ipv4"}, Keys{"ipv6"}};
inline constexpr std::array timeouts = {Keys{"idle"}, Keys{"max_duration"}};
inline constexpr std::array banner_file = {Keys{"file"}};

// Values of the enumerated keys.
inline constexpr std::array builtins = {Keys{"echo"}, Keys{"discard"}, Keys{"chargen"}, Keys{"daytime"},
                                        Keys{"time"}, Keys{"tcpmux"}};
inline constexpr std::array io_modes = {Keys{"splice"}, Keys{"socket"}};
inline constexpr std::array fd_styles = {Keys{"inetd"}, Keys{"systemd"}};
inline constexpr std::array proxy_versions = {Keys{"v1"}, Keys{"v2"}};
inline constexpr std::array on_limit = {Keys{"pause"}, Keys{"reject"}};
inline constexpr std::array log_formats = {Keys{"text"}, Keys{"json"}};
inline constexpr std::array log_levels = {Keys{"debug"}, Keys{"info"}, Keys{"warning"}, Keys{"error"}};

}  // namespace sb::config::keys
