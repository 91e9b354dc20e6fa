// Spawner: clone(CLONE_VM|CLONE_VFORK) + execve, with the child's setup
// planned in the parent.
//
// The child runs on the Spawner's stack inside the server's address space.
// It may not allocate, lock, log, or call a libc function that keeps state:
// glibc's setuid(), for one, would signal the *server's* threads (shared
// memory means shared thread list) and change their credentials. So the
// child makes raw syscall()s only, and it is built without sanitizer
// instrumentation (ASan's fake stacks and no-return hooks assume a known
// thread stack). A failing step is recorded in the Plan and the child exits
// with 127; the parent, resumed only once the child has exec'd or exited,
// reads the Plan.
#include "process/spawn.hpp"

#include "process/fd_limit.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sb::process {
namespace {

constexpr std::size_t k_stack_size = 64 * 1024;
constexpr std::size_t k_guard_size = 4096;
constexpr std::size_t k_pid_digits = 20;
constexpr std::size_t k_kernel_sigset_size = _NSIG / 8;

// 32-bit x86 and ARM have 16-bit legacy id syscalls; the *32 ones take gid_t.
#ifdef SYS_setgroups32
constexpr long k_sys_setgroups = SYS_setgroups32;
constexpr long k_sys_setresgid = SYS_setresgid32;
constexpr long k_sys_setresuid = SYS_setresuid32;
#else
constexpr long k_sys_setgroups = SYS_setgroups;
constexpr long k_sys_setresgid = SYS_setresgid;
constexpr long k_sys_setresuid = SYS_setresuid;
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

#define SB_CHILD_CODE __attribute__((no_sanitize("address", "undefined")))

[[noreturn]] SB_CHILD_CODE inline __attribute__((always_inline)) void child_fail(Plan* plan, Step step,
                                                                                  std::size_t index = 0) {
    plan->failed_errno = errno;
    plan->failed_index = index;
    plan->failed_step = step;
    for (;;) syscall(SYS_exit_group, 127);
}

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

std::string describe_failure(const Plan& plan, const SpawnRequest& request) {
    const ProcessAttributes* a = request.attributes;
    std::string what;
    switch (plan.failed_step) {
        case Step::none: break;
        case Step::signals: what = "sigprocmask"; break;
        case Step::setsid: what = "setsid"; break;
        case Step::dup: {
            const FdMapping& m = plan.fds[plan.failed_index];
            what = "dup2 fd " + std::to_string(m.from) + " to " + std::to_string(m.to);
            break;
        }
        case Step::close_fds: what = "close_range"; break;
        case Step::rlimit: {
            if (a == nullptr || plan.failed_index >= a->rlimits.size()) {
                what = "setrlimit nofile (the server's starting limit)";
                break;
            }
            const auto& r = a->rlimits[plan.failed_index];
            what = "setrlimit " + (r.name.empty() ? std::to_string(r.resource) : r.name);
            break;
        }
        case Step::nice: what = "setpriority " + std::to_string(plan.nice); break;
        case Step::setgroups: what = "setgroups"; break;
        case Step::setgid:
            what = "setgid " + (a->credentials.group_name.empty() ? std::to_string(plan.gid)
                                                                   : a->credentials.group_name);
            break;
        case Step::setuid:
            what = "setuid " + (a->credentials.user_name.empty() ? std::to_string(plan.uid)
                                                                  : a->credentials.user_name);
            break;
        case Step::chdir: what = std::string("chdir ") + plan.cwd; break;
        case Step::no_new_privileges: what = "prctl PR_SET_NO_NEW_PRIVS"; break;
        case Step::execve: what = std::string("execve ") + plan.path; break;
    }
    return what + ": " + std::strerror(plan.failed_errno);
}

// Fills the attribute part of the plan; the arrays it points into live in
// the Spawner.
std::uint64_t kernel_limit(std::uint64_t v) { return v == RLIM_INFINITY ? RLIM64_INFINITY : v; }

// The configured rlimits, then, unless they set "nofile", the soft
// RLIMIT_NOFILE the server started with (fd_limit.hpp).
void plan_rlimits(Plan& plan, const ProcessAttributes* a, std::vector<std::uint64_t>& rlimits) {
    rlimits.clear();
    bool nofile_set = false;
    if (a != nullptr) {
        for (const auto& r : a->rlimits) {
            rlimits.push_back(static_cast<std::uint64_t>(r.resource));
            rlimits.push_back(kernel_limit(r.soft));
            rlimits.push_back(kernel_limit(r.hard));
            nofile_set = nofile_set || r.resource == RLIMIT_NOFILE;
        }
    }
    if (auto inherited = child_fd_limit(); inherited && !nofile_set) {
        rlimits.push_back(RLIMIT_NOFILE);
        rlimits.push_back(kernel_limit(inherited->soft));
        rlimits.push_back(kernel_limit(inherited->hard));
    }
    plan.rlimits = rlimits.data();
    plan.rlimit_count = rlimits.size() / 3;
}

void plan_attributes(Plan& plan, const ProcessAttributes& a, std::vector<gid_t>& groups) {
    plan.new_session = a.new_session;
    if (a.nice) {
        plan.set_nice = true;
        plan.nice = *a.nice;
    }
    if (a.umask) {
        plan.set_umask = true;
        plan.umask = *a.umask;
    }
    if (!a.cwd.empty()) plan.cwd = a.cwd.c_str();
    plan.no_new_privileges = a.no_new_privileges;

    // Switch identity only when it differs from the server's: an unprivileged
    // server runs services as itself, and asking for another user fails
    // loudly (EPERM) instead of silently running as the wrong one.
    const auto& c = a.credentials;
    bool switch_user = c.uid && *c.uid != geteuid();
    bool switch_group = c.gid && (*c.gid != getegid() || switch_user);
    if (!switch_user && !switch_group) return;
    if (geteuid() == 0) {
        groups.assign(c.supplementary.begin(), c.supplementary.end());
        plan.set_groups = true;
        plan.groups = groups.data();
        plan.group_count = groups.size();
    }
    if (c.gid) {
        plan.set_gid = true;
        plan.gid = *c.gid;
    }
    if (switch_user) {
        plan.set_uid = true;
        plan.uid = *c.uid;
    }
}

// Targets sorted; the gaps between them (and everything above) are closed.
[[nodiscard]] int plan_fds(Plan& plan, const std::vector<FdMapping>& fds, std::string& error) {
    if (fds.size() > k_max_fd_mappings) {
        error = "spawn: more than " + std::to_string(k_max_fd_mappings) + " fd mappings";
        return -EINVAL;
    }
    unsigned targets[k_max_fd_mappings];
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].from < 0 || fds[i].to < 0) {
            error = "spawn: negative fd in mapping " + std::to_string(fds[i].from) + " to " + std::to_string(fds[i].to);
            return -EBADF;
        }
        plan.fds[i] = fds[i];
        targets[i] = static_cast<unsigned>(fds[i].to);
    }
    plan.fd_count = fds.size();
    std::sort(targets, targets + fds.size());
    unsigned next = 0;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (i > 0 && targets[i] == targets[i - 1]) {
            error = "spawn: fd " + std::to_string(targets[i]) + " is mapped twice";
            return -EINVAL;
        }
        if (targets[i] > next) {
            plan.close_ranges[plan.close_range_count][0] = next;
            plan.close_ranges[plan.close_range_count][1] = targets[i] - 1;
            ++plan.close_range_count;
        }
        next = targets[i] + 1;
    }
    plan.close_ranges[plan.close_range_count][0] = next;
    plan.close_ranges[plan.close_range_count][1] = ~0U;
    ++plan.close_range_count;
    plan.first_above_targets = static_cast<int>(next);
    return 0;
}

std::string sentence(std::string_view what, int err) { return std::string(what) + ": " + std::strerror(err); }

}  // namespace

void Spawner::read_signal_dispositions() {
    reset_signals_.clear();
    for (int sig = 1; sig < _NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction current {};
        // A signal glibc keeps for itself (the real-time ones it uses for
        // threads) cannot be asked about; resetting it is harmless.
        if (sigaction(sig, nullptr, &current) != 0 || current.sa_handler != SIG_DFL) reset_signals_.push_back(sig);
    }
    signals_read_ = true;
}

Spawner::~Spawner() {
    if (stack_ != nullptr) munmap(stack_, k_stack_size + k_guard_size);
}

int Spawner::spawn(const SpawnRequest& request, Spawned& out, std::string& error) {
    error.clear();
    if (request.argv.empty() || request.argv[0].empty() || request.argv[0][0] != '/') {
        error = "spawn: argv[0] must be an absolute path";
        return -EINVAL;
    }
    Plan plan;
    if (int rc = plan_fds(plan, request.fds, error); rc != 0) return rc;

    if (stack_ == nullptr) {
        void* p = mmap(nullptr, k_stack_size + k_guard_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (p == MAP_FAILED) {
            int err = errno;
            error = sentence("spawn: mmap child stack", err);
            return -err;
        }
        // The stack grows down into a guard page instead of into other memory.
        mprotect(p, k_guard_size, PROT_NONE);
        stack_ = p;
    }

    argv_.clear();
    for (const auto& arg : request.argv) argv_.push_back(const_cast<char*>(arg.c_str()));
    argv_.push_back(nullptr);
    envp_.clear();
    for (const auto& entry : request.env) {
        if (request.set_listen_pid && entry.starts_with("LISTEN_PID=")) continue;
        envp_.push_back(const_cast<char*>(entry.c_str()));
    }
    if (request.set_listen_pid) {
        listen_pid_.assign("LISTEN_PID=");
        listen_pid_.append(k_pid_digits + 1, '\0');
        envp_.push_back(listen_pid_.data());
        plan.listen_pid_digits = listen_pid_.data() + std::string_view("LISTEN_PID=").size();
    }
    envp_.push_back(nullptr);
    plan.path = argv_[0];
    plan.argv = argv_.data();
    plan.envp = envp_.data();
    if (!signals_read_) read_signal_dispositions();
    plan.reset_signals = reset_signals_.data();
    plan.reset_signal_count = reset_signals_.size();
    plan_rlimits(plan, request.attributes, rlimits_);
    if (request.attributes != nullptr) plan_attributes(plan, *request.attributes, groups_);

    if (injected_clone_error_ != 0) {
        int err = injected_clone_error_;
        injected_clone_error_ = 0;
        error = sentence("clone", err);
        return -err;
    }

    sigset_t all;
    sigset_t previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    void* stack_top = static_cast<char*>(stack_) + k_guard_size + k_stack_size;
    int pidfd = -1;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = clone(child_main, stack_top, flags | CLONE_PIDFD, &plan, &pidfd);
    if (pid < 0 && errno == EINVAL) {  // a kernel without CLONE_PIDFD (before 5.2)
        pidfd = -1;
        pid = clone(child_main, stack_top, flags, &plan, nullptr);
    }
    int clone_errno = errno;
    auto started = std::chrono::steady_clock::now();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
        error = sentence("clone", clone_errno);
        return -clone_errno;
    }

    auto reap = [&] {
        // The child has exited or is about to: this wait is short.
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (pidfd >= 0) close(pidfd);
    };
    if (plan.failed_step != Step::none) {
        reap();
        error = describe_failure(plan, request);
        return -plan.failed_errno;
    }
    if (pidfd < 0) {
        pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
        if (pidfd < 0) {
            int err = errno;
            kill(pid, SIGKILL);
            reap();
            error = sentence("pidfd_open", err);
            return -err;
        }
    }
    out.pid = pid;
    out.pidfd = pidfd;
    out.started = started;
    out.session_leader = plan.new_session;
    return 0;
}

}  // namespace sb::process
