// Users and groups as the system knows them, asked of NSS at most once per
// load: a thousand services running as "git" cost one lookup, not a
// thousand. Owned by one load; nothing here outlives it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sb::config {

struct Account {
    uid_t uid = 0;
    gid_t gid = 0;  // primary group
    std::string name;
    std::string home;
};

struct Group {
    gid_t gid = 0;
    std::string name;
};

class Accounts {
public:
    // Offline (LoadOptions::offline): every name and number is unknown, and
    // NSS is never asked.
    void set_offline() { offline_ = true; }

    // By number when `id` is set, else by name; nullptr when unknown.
    const Account* user(const std::string& name, std::optional<std::uint64_t> id);
    const Group* group(const std::string& name, std::optional<std::uint64_t> id);
    // The user's groups (getgrouplist), `primary` included.
    const std::vector<gid_t>& groups_of(const std::string& user, gid_t primary);

private:
    bool offline_ = false;
    std::map<std::string, std::optional<Account>> users_;  // "name" or "#id"
    std::map<std::string, std::optional<Group>> groups_;
    std::map<std::pair<std::string, gid_t>, std::vector<gid_t>> group_lists_;
};

}  // namespace sb::config
