// Spawner: clone(CLONE_VM|CLONE_VFORK) + execve, with the child's setup
// planned in the parent (spawn_plan.cpp) and carried out by the child
// (spawn_child.cpp). This file is the parent side: the stack, the argument
// arrays, clone itself, and reaping a child that failed before exec.
#include "process/spawn.hpp"

#include "process/spawn_plan.hpp"
#include "switchboard/fd.hpp"

#include "sys/faults.hpp"
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace sb::process {
namespace {

using detail::Plan;
using detail::Step;

constexpr std::size_t k_stack_size = 64 * 1024;
constexpr std::size_t k_guard_size = 4096;

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
    if (int rc = detail::plan_fds(plan, request.fds, error); rc != 0) return rc;

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
        listen_pid_.append(detail::k_pid_digits + 1, '\0');
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
    detail::plan_rlimits(plan, request.attributes, rlimits_);
    if (request.attributes != nullptr) detail::plan_attributes(plan, *request.attributes, groups_);

    int injected = std::exchange(injected_clone_error_, 0);
    if (injected == 0) injected = sys::fault(sys::Call::spawn);
    if (injected != 0) {
        int err = injected;
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
    pid_t pid = clone(detail::child_main, stack_top, flags | CLONE_PIDFD, &plan, &pidfd);
    if (pid < 0 && errno == EINVAL) {  // a kernel without CLONE_PIDFD (before 5.2)
        pidfd = -1;
        pid = clone(detail::child_main, stack_top, flags, &plan, nullptr);
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
        if (pidfd >= 0) Fd{pidfd}.reset();
    };
    if (plan.failed_step != Step::none) {
        reap();
        error = detail::describe_failure(plan, request);
        return -plan.failed_errno;
    }
    // The pidfd came with clone (Linux 5.2+) or is opened now; a fault
    // injected as pidfd_open (sys/faults.hpp) stands for either failing.
    int pidfd_error = 0;
    if (pidfd >= 0 && (pidfd_error = sys::fault(sys::Call::pidfd_open)) != 0) {
        Fd{pidfd}.reset();
        pidfd = -1;
    } else if (pidfd < 0) {
        pidfd = sys::pidfd_open(pid, 0);
        if (pidfd < 0) pidfd_error = errno;
    }
    if (pidfd < 0) {
        kill(pid, SIGKILL);
        reap();
        error = sentence("pidfd_open", pidfd_error);
        return -pidfd_error;
    }
    out.pid = pid;
    out.pidfd = pidfd;
    out.started = started;
    out.session_leader = plan.new_session;
    return 0;
}

}  // namespace sb::process
