// Users and groups, resolved at load time with the reentrant libc lookups:
// the loop never asks NSS anything, and a child's supplementary groups are
// known before it is spawned.
#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>
#include <vector>

#include "config/sections.hpp"
#include "net/quote.hpp"

namespace sb::config {

using net::quote;

namespace {

// (uid_t)-1 and (gid_t)-1 mean "no change" to chown and setresuid.
constexpr std::uint64_t k_max_id = std::numeric_limits<std::uint32_t>::max() - 1;

std::optional<std::uint64_t> numeric_id(std::string_view s) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc{}) return std::numeric_limits<std::uint64_t>::max();
    return value;
}

// glibc's lookups want a caller buffer and return ERANGE when it is short;
// the strings live in that buffer, so they are copied out before it goes.
template <typename Entry, typename Call>
bool lookup(Call&& call, Entry& entry, std::vector<char>& buf) {
    buf.resize(1024);
    for (;;) {
        Entry* result = nullptr;
        int rc = call(&entry, buf.data(), buf.size(), &result);
        if (rc == ERANGE && buf.size() < (1U << 20)) {
            buf.resize(buf.size() * 4);
            continue;
        }
        return rc == 0 && result != nullptr;
    }
}

std::optional<Account> find_user(const std::string& name, std::optional<std::uint64_t> id) {
    passwd pw{};
    std::vector<char> buf;
    bool found = lookup(
        [&](passwd* entry, char* b, std::size_t n, passwd** result) {
            return id ? getpwuid_r(static_cast<uid_t>(*id), entry, b, n, result)
                      : getpwnam_r(name.c_str(), entry, b, n, result);
        },
        pw, buf);
    if (!found) return std::nullopt;
    return Account{pw.pw_uid, pw.pw_gid, pw.pw_name ? pw.pw_name : "", pw.pw_dir ? pw.pw_dir : ""};
}

std::optional<Group> find_group(const std::string& name, std::optional<std::uint64_t> id) {
    group gr{};
    std::vector<char> buf;
    bool found = lookup(
        [&](group* entry, char* b, std::size_t n, group** result) {
            return id ? getgrgid_r(static_cast<gid_t>(*id), entry, b, n, result)
                      : getgrnam_r(name.c_str(), entry, b, n, result);
        },
        gr, buf);
    if (!found) return std::nullopt;
    return Group{gr.gr_gid, gr.gr_name ? gr.gr_name : ""};
}

std::vector<gid_t> find_group_list(const std::string& user, gid_t primary) {
    std::vector<gid_t> groups(32);
    for (int attempt = 0; attempt < 8; ++attempt) {
        int n = static_cast<int>(groups.size());
        if (getgrouplist(user.c_str(), primary, groups.data(), &n) >= 0) {
            groups.resize(static_cast<std::size_t>(n));
            return groups;
        }
        groups.resize(std::max(static_cast<std::size_t>(n), groups.size() * 2));
    }
    return {primary};
}

std::string cache_key(const std::string& name, std::optional<std::uint64_t> id) {
    return id ? "#" + std::to_string(*id) : name;
}

// A user or group as written: a JSON number, a string of digits, or a name.
struct IdSpec {
    std::string text;                // as written, for messages and names
    std::optional<std::uint64_t> id;  // when numeric
};

std::optional<IdSpec> read_id_spec(const Node& node, std::string_view what) {
    const auto& v = node.json();
    if (v.is_number()) {
        auto id = node.unsigned_number(0, k_max_id);
        if (!id) return std::nullopt;
        return IdSpec{std::to_string(*id), id};
    }
    if (!v.is_string()) {
        node.type_error("a " + std::string(what) + " name or number");
        return std::nullopt;
    }
    auto s = node.nonempty_string();
    if (!s) return std::nullopt;
    IdSpec spec{*s, numeric_id(*s)};
    if (spec.id && *spec.id > k_max_id) {
        node.error(std::string(what) + " id " + *s + " is out of range 0-" + std::to_string(k_max_id));
        return std::nullopt;
    }
    return spec;
}

}  // namespace

const Account* Accounts::user(const std::string& name, std::optional<std::uint64_t> id) {
    if (offline_) return nullptr;
    auto [it, fresh] = users_.try_emplace(cache_key(name, id));
    if (fresh) it->second = find_user(name, id);
    return it->second ? &*it->second : nullptr;
}

const Group* Accounts::group(const std::string& name, std::optional<std::uint64_t> id) {
    if (offline_) return nullptr;
    auto [it, fresh] = groups_.try_emplace(cache_key(name, id));
    if (fresh) it->second = find_group(name, id);
    return it->second ? &*it->second : nullptr;
}

const std::vector<gid_t>& Accounts::groups_of(const std::string& user, gid_t primary) {
    auto [it, fresh] = group_lists_.try_emplace({user, primary});
    if (fresh) it->second = find_group_list(user, primary);
    return it->second;
}

std::optional<uid_t> read_uid(const Node& node, LoadContext& context) {
    auto spec = read_id_spec(node, "user");
    if (!spec) return std::nullopt;
    if (spec->id) return static_cast<uid_t>(*spec->id);
    if (const Account* account = context.accounts.user(spec->text, std::nullopt)) return account->uid;
    if (context.options.check_system) node.error("unknown user " + quote(spec->text));
    return std::nullopt;
}

std::optional<gid_t> read_gid(const Node& node, LoadContext& context) {
    auto spec = read_id_spec(node, "group");
    if (!spec) return std::nullopt;
    if (spec->id) return static_cast<gid_t>(*spec->id);
    if (const Group* g = context.accounts.group(spec->text, std::nullopt)) return g->gid;
    if (context.options.check_system) node.error("unknown group " + quote(spec->text));
    return std::nullopt;
}

Credentials read_credentials(const std::optional<Node>& user, const std::optional<Node>& group,
                             LoadContext& context) {
    Credentials out;
    if (group) {
        if (auto spec = read_id_spec(*group, "group")) {
            out.group_name = spec->text;
            const Group* g = context.accounts.group(spec->text, spec->id);
            if (g) {
                out.gid = g->gid;
                out.group_name = g->name;
            } else if (spec->id) {
                out.gid = static_cast<gid_t>(*spec->id);
            } else if (context.options.check_system) {
                group->error("unknown group " + quote(spec->text));
            }
        }
    }
    if (!user) return out;
    auto spec = read_id_spec(*user, "user");
    if (!spec) return out;
    out.user_name = spec->text;
    const Account* account = context.accounts.user(spec->text, spec->id);
    if (!account) {
        if (spec->id) {
            out.uid = static_cast<uid_t>(*spec->id);
            // Without a passwd entry there is no primary group to fall back
            // to, and keeping the server's own (root) group would be wrong.
            if (!group && context.options.check_system) {
                user->error("user " + spec->text + " has no passwd entry, so it has no primary group; set \"group\" too");
            }
        } else if (context.options.check_system) {
            user->error("unknown user " + quote(spec->text));
        }
        return out;
    }
    out.user_name = account->name;
    out.uid = account->uid;
    out.home = account->home;
    if (!out.gid && !group) out.gid = account->gid;
    if (out.gid) out.supplementary = context.accounts.groups_of(account->name, *out.gid);
    return out;
}

}  // namespace sb::config
