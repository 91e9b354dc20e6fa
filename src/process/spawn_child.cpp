// The child side of a spawn: everything here runs in the cloned child, on
// the Spawner's stack, inside the server's address space (CLONE_VM), until
// execve.
//
// It may not allocate, lock, log, or call a libc function that keeps state:
// glibc's setuid(), for one, would signal the *server's* threads (shared
// memory means shared thread list) and change their credentials. So the
// child makes raw syscall()s only, and it is built without sanitizer
// instrumentation (ASan's fake stacks and no-return hooks assume a known
// thread stack). A failing step is recorded in the Plan and the child exits
// with 127; the parent, resumed only once the child has exec'd or exited,
// reads the Plan.
#include "process/spawn_plan.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sb::process::detail {
namespace {

#define SB_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

[[noreturn]] SB_CHILD_CODE inline __attribute__((always_inline)) void child_fail(Plan* plan, Step step,
                                                                                  std::size_t index = 0) {
    plan->failed_errno = errno;
    plan->failed_index = index;
    plan->failed_step = step;
    for (;;) syscall(SYS_exit_group, 127);
}

}  // namespace

SB_CHILD_CODE int child_main(void* arg) {
    auto* plan = static_cast<Plan*>(arg);

    // The parent blocked every signal around clone(), so no server handler
    // can run here. Reset what is not at its default (SIG_IGN survives
    // execve; a handler would run server code on this stack), then unblock
    // everything. An all-zero kernel sigaction is SIG_DFL with no flags on
    // every layout.
    unsigned long default_action[8] = {};
    for (std::size_t i = 0; i < plan->reset_signal_count; ++i) {
        syscall(SYS_rt_sigaction, plan->reset_signals[i], default_action, nullptr, k_kernel_sigset_size);
    }
    unsigned long empty_mask[2] = {};
    if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, empty_mask, nullptr, k_kernel_sigset_size) != 0) {
        child_fail(plan, Step::signals);
    }

    if (plan->new_session && syscall(SYS_setsid) < 0) child_fail(plan, Step::setsid);

    // Move every source above the highest target first, so that placing one
    // mapping never overwrites another's source; the copies die with the
    // close below.
    int moved[k_max_fd_mappings];
    for (std::size_t i = 0; i < plan->fd_count; ++i) {
        long fd = syscall(SYS_fcntl, plan->fds[i].from, F_DUPFD, plan->first_above_targets);
        if (fd < 0) child_fail(plan, Step::dup, i);
        moved[i] = static_cast<int>(fd);
    }
    for (std::size_t i = 0; i < plan->fd_count; ++i) {
        if (syscall(SYS_dup3, moved[i], plan->fds[i].to, 0) < 0) child_fail(plan, Step::dup, i);
    }
    for (std::size_t r = 0; r < plan->close_range_count; ++r) {
        unsigned first = plan->close_ranges[r][0];
        unsigned last = plan->close_ranges[r][1];
        if (syscall(SYS_close_range, first, last, 0) == 0) continue;
        if (errno != ENOSYS) child_fail(plan, Step::close_fds);
        // A kernel before 5.9: close one by one, up to the fd limit (asked
        // here, on this rare path, rather than by every spawn).
        rlimit nofile{};
        (void)syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, nullptr, &nofile);
        rlim_t limit = std::min<rlim_t>(std::max(nofile.rlim_cur, nofile.rlim_max), 1U << 20);
        for (unsigned fd = first; fd <= last && fd < limit; ++fd) syscall(SYS_close, fd);
    }

    for (std::size_t i = 0; i < plan->rlimit_count; ++i) {
        const std::uint64_t* r = plan->rlimits + 3 * i;
        std::uint64_t limit[2] = {r[1], r[2]};
        if (syscall(SYS_prlimit64, 0, r[0], limit, nullptr) != 0) child_fail(plan, Step::rlimit, i);
    }
    if (plan->set_nice && syscall(SYS_setpriority, PRIO_PROCESS, 0, plan->nice) != 0) {
        child_fail(plan, Step::nice);
    }
    if (plan->set_umask) syscall(SYS_umask, plan->umask);

    // Groups before gid before uid: each later step gives up the privilege
    // the earlier ones need.
    if (plan->set_groups && syscall(k_sys_setgroups, plan->group_count, plan->groups) != 0) {
        child_fail(plan, Step::setgroups);
    }
    if (plan->set_gid && syscall(k_sys_setresgid, plan->gid, plan->gid, plan->gid) != 0) {
        child_fail(plan, Step::setgid);
    }
    if (plan->set_uid && syscall(k_sys_setresuid, plan->uid, plan->uid, plan->uid) != 0) {
        child_fail(plan, Step::setuid);
    }
    // After the switch, so a directory the user may not enter fails here
    // rather than leaving the program in a cwd it cannot use.
    if (syscall(SYS_chdir, plan->cwd) != 0) child_fail(plan, Step::chdir);
    if (plan->no_new_privileges && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        child_fail(plan, Step::no_new_privileges);
    }

    if (plan->listen_pid_digits != nullptr) {
        char digits[k_pid_digits];
        std::size_t n = 0;
        for (auto pid = static_cast<unsigned long>(syscall(SYS_getpid)); n == 0 || pid != 0; pid /= 10) {
            digits[n++] = static_cast<char>('0' + pid % 10);
        }
        for (std::size_t i = 0; i < n; ++i) plan->listen_pid_digits[i] = digits[n - 1 - i];
        plan->listen_pid_digits[n] = '\0';
    }

    syscall(SYS_execve, plan->path, plan->argv, plan->envp);
    child_fail(plan, Step::execve);
}

}  // namespace sb::process::detail
