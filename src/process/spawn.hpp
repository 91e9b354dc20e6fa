// Starting a child program vfork-style, and the environment it gets.
//
// Spawner::spawn() clones the calling thread with CLONE_VM|CLONE_VFORK onto a
// small reused stack: the child shares the server's memory until it execs, so
// nothing is copied and the loop pauses only for the child's few system
// calls, not for a fork of the whole process. Everything the child needs
// (argv/envp arrays, groups, fd plan) is prepared in the parent; the child
// makes raw system calls only and reports a failing step by writing into the
// parent's memory before it exits with 127.
//
// The caller keeps SIGCHLD at its default disposition (never SIG_IGN, or
// children are reaped by the kernel and their exit status is lost) and
// installs no SIGCHLD handler: a child is reaped through its pidfd
// (process/child.hpp).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "switchboard/process/attributes.hpp"

namespace sb::process {

// dup2(from, to) in the child. `from` may equal `to`: the fd is then kept
// and its close-on-exec flag cleared. Sources may collide with other
// mappings' targets (a swap works). Every fd not named as a `to` is closed
// in the child, 0, 1 and 2 included: map /dev/null if the program needs them.
struct FdMapping {
    int from = -1;
    int to = -1;
};

inline constexpr std::size_t k_max_fd_mappings = 16;

struct SpawnRequest {
    std::vector<std::string> argv;  // argv[0] is an absolute path (no PATH search)
    std::vector<std::string> env;   // "K=V", exactly the child's environment
    // Systemd socket activation: the child sets LISTEN_PID=<its own pid>
    // (any LISTEN_PID in `env` is replaced).
    bool set_listen_pid = false;
    std::vector<FdMapping> fds;  // at most k_max_fd_mappings, distinct targets
    // Credentials, cwd, umask, nice, rlimits, no_new_privileges, new_session.
    // Null: the server's own attributes, cwd "/", no new session.
    const ProcessAttributes* attributes = nullptr;
};

struct Spawned {
    pid_t pid = -1;
    int pidfd = -1;  // O_CLOEXEC; the caller owns it (see ChildWatch)
    std::chrono::steady_clock::time_point started{};
    bool session_leader = false;  // the child called setsid(): its pid is its process group
};

// Owns the child stack (mapped on first use, reused by every spawn) and the
// scratch arrays, so a spawn allocates nothing once warm. One per loop
// thread; not thread-safe; never moved while a spawn runs (it cannot: the
// calling thread is suspended until the child execs).
//
// The child puts back to SIG_DFL every signal that was not at SIG_DFL when
// the first spawn read the dispositions (handlers, and SIG_IGN, which would
// survive execve), rather than all 64: that saves the child, and so the
// suspended loop, some sixty system calls per spawn. Install every signal
// handler before the first spawn (the server does, in Server::start), or
// call reread_signal_dispositions() after changing one.
class Spawner {
public:
    Spawner() = default;
    Spawner(const Spawner&) = delete;
    Spawner& operator=(const Spawner&) = delete;
    ~Spawner();

    // Returns 0 and fills `out`, or a negative errno with `error` set to a
    // sentence naming the failing step: "execve /usr/bin/x: No such file or
    // directory". On failure no child is left behind (a child that failed
    // before exec is reaped here) and no fd is leaked.
    [[nodiscard]] int spawn(const SpawnRequest& request, Spawned& out, std::string& error);

    // After a signal's disposition changed from SIG_DFL: read them all again.
    void reread_signal_dispositions() { read_signal_dispositions(); }

    // Test seam: the next spawn fails at "clone" with `error` (an errno).
    void fail_next_clone(int error) { injected_clone_error_ = error; }

private:
    void read_signal_dispositions();

    void* stack_ = nullptr;  // k_stack_size bytes plus a guard page below
    std::vector<int> reset_signals_;  // not at SIG_DFL when last read
    bool signals_read_ = false;
    std::vector<char*> argv_;
    std::vector<char*> envp_;
    std::vector<gid_t> groups_;
    std::vector<std::uint64_t> rlimits_;  // triples: resource, soft, hard
    std::string listen_pid_;              // "LISTEN_PID=" plus room for the digits
    int injected_clone_error_ = 0;
};

}  // namespace sb::process
