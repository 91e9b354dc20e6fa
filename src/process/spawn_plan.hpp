// The plan of a spawn: what the parent prepares and the child follows.
//
// Internal to process/: spawn.cpp (the parent side, Spawner) fills a Plan
// with plan_*(), clone()s onto child_main() (spawn_child.cpp, the only code
// that runs in the child), and reads back the failed_* fields. The Plan and
// every array it points into belong to the parent; the child writes only
// failed_*.
#pragma once

#include "process/spawn.hpp"

#include <signal.h>
#include <sys/syscall.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sb::process::detail {

inline constexpr std::size_t k_pid_digits = 20;
inline constexpr std::size_t k_kernel_sigset_size = _NSIG / 8;

// 32-bit x86 and ARM have 16-bit legacy id syscalls; the *32 ones take gid_t.
#ifdef SYS_setgroups32
inline constexpr long k_sys_setgroups = SYS_setgroups32;
inline constexpr long k_sys_setresgid = SYS_setresgid32;
inline constexpr long k_sys_setresuid = SYS_setresuid32;
#else
inline constexpr long k_sys_setgroups = SYS_setgroups;
inline constexpr long k_sys_setresgid = SYS_setresgid;
inline constexpr long k_sys_setresuid = SYS_setresuid;
#endif

enum class Step : int {
    none,
    signals,
    setsid,
    dup,
    close_fds,
    rlimit,
    nice,
    setgroups,
    setgid,
    setuid,
    chdir,
    no_new_privileges,
    execve,
};

// Everything the child reads, prepared by the parent; the child writes only
// the `failed_*` fields.
struct Plan {
    const char* path = nullptr;
    char* const* argv = nullptr;
    char* const* envp = nullptr;
    char* listen_pid_digits = nullptr;  // k_pid_digits + 1 bytes, or null
    const int* reset_signals = nullptr;  // the signals not at SIG_DFL in the server
    std::size_t reset_signal_count = 0;

    FdMapping fds[k_max_fd_mappings];
    std::size_t fd_count = 0;
    int first_above_targets = 0;  // one more than the highest target
    unsigned close_ranges[k_max_fd_mappings + 1][2] = {};
    std::size_t close_range_count = 0;

    bool new_session = false;
    const std::uint64_t* rlimits = nullptr;  // triples: resource, soft, hard
    std::size_t rlimit_count = 0;
    bool set_nice = false;
    int nice = 0;
    bool set_umask = false;
    mode_t umask = 0;
    bool set_groups = false;
    const gid_t* groups = nullptr;
    std::size_t group_count = 0;
    bool set_gid = false;
    gid_t gid = 0;
    bool set_uid = false;
    uid_t uid = 0;
    const char* cwd = "/";
    bool no_new_privileges = false;

    Step failed_step = Step::none;
    int failed_errno = 0;
    std::size_t failed_index = 0;
};

// The child's entry point, given the Plan as `arg`; it never returns.
int child_main(void* arg);

// "setuid nobody: Operation not permitted": the step the child recorded.
std::string describe_failure(const Plan& plan, const SpawnRequest& request);

// The configured rlimits, then, unless they set "nofile", the soft
// RLIMIT_NOFILE the server started with (fd_limit.hpp). `rlimits` holds the
// triples the plan points into.
void plan_rlimits(Plan& plan, const ProcessAttributes* a, std::vector<std::uint64_t>& rlimits);

// Session, nice, umask, cwd, no_new_privileges and the identity switch;
// `groups` holds the supplementary groups the plan points into.
void plan_attributes(Plan& plan, const ProcessAttributes& a, std::vector<gid_t>& groups);

// Targets sorted; the gaps between them (and everything above) are closed.
// Returns 0, or a negative errno with `error` set.
[[nodiscard]] int plan_fds(Plan& plan, const std::vector<FdMapping>& fds, std::string& error);

}  // namespace sb::process::detail
