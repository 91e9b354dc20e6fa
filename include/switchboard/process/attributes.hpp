// What a child process is started with: its program, credentials and
// process attributes. process/ owns these structs; config/ fills them from
// an "exec" section (config::Exec extends ProcessAttributes with what only
// the server needs: io mode, wait mode, grace).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sb::process {

struct Rlimit {
    int resource = 0;        // RLIMIT_NOFILE, ...
    std::string name;        // "nofile", for messages
    std::uint64_t soft = 0;  // RLIM_INFINITY for "unlimited"
    std::uint64_t hard = 0;

    friend bool operator==(const Rlimit&, const Rlimit&) = default;
};

// A user or group, resolved before spawning (never on the loop).
struct Credentials {
    std::string user_name;           // empty: keep the server's uid
    std::optional<uid_t> uid;
    std::string group_name;
    std::optional<gid_t> gid;        // the group's gid, or the user's primary gid
    std::vector<gid_t> supplementary;  // the user's groups, resolved in the parent
    std::string home;                // the user's home directory, if any

    friend bool operator==(const Credentials&, const Credentials&) = default;
};

struct ProcessAttributes {
    std::vector<std::string> argv;  // argv[0] is an absolute path
    Credentials credentials;
    std::string cwd;  // empty: "/"
    std::optional<mode_t> umask;
    std::optional<int> nice;
    std::vector<Rlimit> rlimits;
    bool no_new_privileges = false;
    bool new_session = true;
    std::map<std::string, std::string> env;
    std::vector<std::string> pass_env;

    friend bool operator==(const ProcessAttributes&, const ProcessAttributes&) = default;
};

}  // namespace sb::process
