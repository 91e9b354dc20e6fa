// The "exec" object: the program to start for a connection and every
// attribute of its process.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "config/keys.hpp"
#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

using net::quote;

namespace {

bool is_env_name(std::string_view s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::string env_name_problem(std::string_view name) {
    return "invalid environment variable name " + quote(name) +
           "; names are letters, digits and \"_\", not starting with a digit";
}

std::vector<std::string> read_argv(const Node& node, LoadContext& context) {
    std::vector<std::string> argv;
    if (!node.expect_array("an array of strings (the program and its arguments)")) return argv;
    if (node.json().empty()) {
        node.error("argv must name the program to run");
        return argv;
    }
    for (const Node& element : node.elements()) {
        if (auto s = element.string()) argv.push_back(*s);
    }
    if (argv.size() != node.json().size()) return argv;
    const Node program = node.element(0);
    if (argv[0].empty() || argv[0][0] != '/') {
        program.error("argv[0] must be an absolute path, got " + quote(argv[0]));
        return argv;
    }
    if (context.options.check_system) {
        struct stat st {};
        if (::stat(argv[0].c_str(), &st) != 0) {
            program.error("cannot run " + argv[0] + ": " + std::strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            program.error("cannot run " + argv[0] + ": it is a directory");
        } else if (::access(argv[0].c_str(), X_OK) != 0) {
            program.error("cannot run " + argv[0] + ": it is not executable");
        }
    }
    return argv;
}

struct LimitKind {
    std::string_view name;
    int resource;
    enum class Unit : std::uint8_t { count, bytes, seconds } unit;
};

constexpr LimitKind k_limits[] = {
    {"nofile", RLIMIT_NOFILE, LimitKind::Unit::count}, {"nproc", RLIMIT_NPROC, LimitKind::Unit::count},
    {"as", RLIMIT_AS, LimitKind::Unit::bytes},          {"cpu", RLIMIT_CPU, LimitKind::Unit::seconds},
    {"core", RLIMIT_CORE, LimitKind::Unit::bytes},      {"fsize", RLIMIT_FSIZE, LimitKind::Unit::bytes},
};

std::optional<std::uint64_t> read_limit_value(const Node& node, const LimitKind& kind) {
    const auto& v = node.json();
    if (v.is_string() && v.get_ref<const std::string&>() == "unlimited") return RLIM_INFINITY;
    // RLIM_INFINITY itself is the largest value; anything at it means "unlimited".
    const std::uint64_t max = RLIM_INFINITY - 1;
    switch (kind.unit) {
        case LimitKind::Unit::count:
            if (!v.is_number()) {
                node.type_error("a number or \"unlimited\"");
                return std::nullopt;
            }
            return node.unsigned_number(0, max);
        case LimitKind::Unit::bytes:
            if (!v.is_number() && !v.is_string()) {
                node.type_error("a size (a number of bytes or a string like \"1G\") or \"unlimited\"");
                return std::nullopt;
            }
            return node.size();
        case LimitKind::Unit::seconds: {
            if (!v.is_number() && !v.is_string()) {
                node.type_error("a number of seconds, a duration like \"1h\", or \"unlimited\"");
                return std::nullopt;
            }
            auto d = node.duration();
            if (!d) return std::nullopt;
            if (d->count() % 1000 != 0) {
                node.error("the cpu limit is counted in whole seconds");
                return std::nullopt;
            }
            return static_cast<std::uint64_t>(d->count() / 1000);
        }
    }
    return std::nullopt;
}

std::string limit_text(std::uint64_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v); }

std::vector<Rlimit> read_rlimits(const Node& node) {
    std::vector<Rlimit> out;
    ObjectReader object(node, keys::rlimits);
    if (!object.valid()) return out;
    for (const LimitKind& kind : k_limits) {
        auto value = object.get(std::string(kind.name));
        if (!value) continue;
        Rlimit limit{kind.resource, std::string(kind.name), 0, 0};
        if (value->is_array()) {
            if (value->json().size() != 2) {
                value->error("a limit pair is [soft, hard], got " + std::to_string(value->json().size()) + " values");
                continue;
            }
            auto soft = read_limit_value(value->element(0), kind);
            auto hard = read_limit_value(value->element(1), kind);
            if (!soft || !hard) continue;
            if (*soft > *hard) {
                value->error("the soft limit " + limit_text(*soft) + " is above the hard limit " + limit_text(*hard));
                continue;
            }
            limit.soft = *soft;
            limit.hard = *hard;
        } else {
            auto v = read_limit_value(*value, kind);
            if (!v) continue;
            limit.soft = limit.hard = *v;
        }
        out.push_back(std::move(limit));
    }
    return out;
}

std::map<std::string, std::string> read_env(const Node& node) {
    std::map<std::string, std::string> env;
    if (!node.is_object()) {
        node.type_error("an object of variable names to values");
        return env;
    }
    for (const auto& [name, value] : node.json().items()) {
        Node entry = node.child(name);
        if (!is_env_name(name)) {
            entry.key_error(env_name_problem(name));
            continue;
        }
        if (auto s = entry.string()) env.emplace(name, *s);
    }
    return env;
}

std::vector<std::string> read_pass_env(const Node& node) {
    std::vector<std::string> out;
    if (!node.expect_array("an array of variable names")) return out;
    for (const Node& element : node.elements()) {
        auto s = element.string();
        if (!s) continue;
        if (!is_env_name(*s)) {
            element.error(env_name_problem(*s));
            continue;
        }
        out.push_back(*s);
    }
    return out;
}

}  // namespace

std::optional<Exec> read_exec(const Node& node, LoadContext& context) {
    ObjectReader object(node, keys::exec);
    if (!object.valid()) return std::nullopt;
    Exec exec;
    if (auto argv = object.get("argv")) {
        exec.argv = read_argv(*argv, context);
    } else {
        node.key_error("exec needs \"argv\", the program to run and its arguments");
    }
    if (auto wait = object.get("wait")) exec.wait = wait->boolean().value_or(false);
    if (auto io = object.get("io")) {
        if (auto i = io->choice(keys::io_modes, "io mode")) exec.io = static_cast<IoMode>(*i);
        if (exec.wait) {
            io->key_error("\"io\" has no effect with \"wait\": true (the child gets the listening socket itself)");
        }
    }
    if (auto fds = object.get("fds")) {
        if (auto i = fds->choice(keys::fd_styles, "fds style")) exec.fds = static_cast<FdStyle>(*i);
        if (!exec.wait) fds->key_error("\"fds\" applies only with \"wait\": true");
    }
    exec.credentials = read_credentials(object.get("user"), object.get("group"), context);
    if (auto cwd = object.get("cwd")) {
        if (auto path = cwd->absolute_path()) {
            exec.cwd = *path;
            struct stat st {};
            if (context.options.check_system) {
                if (::stat(path->c_str(), &st) != 0) {
                    cwd->error("cannot use " + *path + " as the working directory: " + std::strerror(errno));
                } else if (!S_ISDIR(st.st_mode)) {
                    cwd->error("cannot use " + *path + " as the working directory: it is not a directory");
                }
            }
        }
    }
    if (auto umask = object.get("umask")) exec.umask = umask->octal(0777, "umask", "0022");
    if (auto nice = object.get("nice")) {
        if (auto n = nice->signed_number(-20, 19)) exec.nice = static_cast<int>(*n);
    }
    if (auto rlimits = object.get("rlimits")) exec.rlimits = read_rlimits(*rlimits);
    if (auto nnp = object.get("no_new_privileges")) exec.no_new_privileges = nnp->boolean().value_or(false);
    if (auto session = object.get("new_session")) exec.new_session = session->boolean().value_or(true);
    if (auto env = object.get("env")) exec.env = read_env(*env);
    if (auto pass = object.get("pass_env")) exec.pass_env = read_pass_env(*pass);
    if (auto grace = object.get("grace")) {
        if (auto d = grace->duration()) exec.grace = *d;
    }
    return exec;
}

}  // namespace sb::config
