// ChildWatch: one running child, watched and reaped through its pidfd.
//
// Owns the child's pidfd (from start() on, even if start() fails) and two
// handles: a Poll on the pidfd and a Timer for terminate()'s grace period.
// Its owner (an exec connection, a wait-mode service) holds it by value and
// keeps it alive until the callback of close() has run; the pidfd is closed
// only after the poll handle is, so libuv never watches a recycled fd.
//
// When the child exits, the pidfd turns readable; the watch reaps it with
// waitid(P_PIDFD) and calls on_exit once. The watch is then done and its
// owner closes it. No SIGCHLD handler is involved, and a child is never
// reaped by anyone else.
//
// Closing the watch does not stop the child: close it after on_exit, or
// terminate() first and wait for on_exit. A child whose watch was closed
// while it ran stays unreaped (a zombie once it exits) until the server
// exits. Loop thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "switchboard/fd.hpp"
#include "process/spawn.hpp"
#include "uv/poll.hpp"
#include "uv/timer.hpp"

namespace sb::process {

struct ExitStatus {
    enum class Kind : std::uint8_t { exited, killed, lost };
    Kind kind = Kind::lost;  // lost: waitid failed (someone else reaped it)
    int code = -1;           // exit code, when exited
    int signal = 0;          // terminating signal, when killed
    bool core_dumped = false;
    std::chrono::milliseconds duration{0};  // from spawn to reaping

    // "exit 3", "signal SIGKILL", "signal SIGSEGV (core dumped)", "lost".
    [[nodiscard]] std::string describe() const;
};

class ChildWatch {
public:
    using ExitCallback = std::function<void(const ExitStatus&)>;

    ChildWatch() = default;
    ChildWatch(const ChildWatch&) = delete;
    ChildWatch& operator=(const ChildWatch&) = delete;
    ChildWatch(ChildWatch&&) = delete;
    ChildWatch& operator=(ChildWatch&&) = delete;
    ~ChildWatch() = default;

    // Takes ownership of child.pidfd and starts watching. On failure (a libuv
    // error code is returned) the watch still owns the pidfd: close() it.
    [[nodiscard]] int start(uv_loop_t* loop, const Spawned& child, ExitCallback on_exit);

    [[nodiscard]] pid_t pid() const { return pid_; }
    // Started and not yet reaped.
    [[nodiscard]] bool running() const { return pidfd_.valid() && !reaped_; }

    // Sends `sig` to the child only. 0, or a negative errno (-ESRCH once reaped).
    [[nodiscard]] int signal(int sig);

    // SIGTERM now (to the child and, if it leads a session, to its process
    // group), SIGKILL after `grace` if it has not been reaped by then; a zero
    // grace kills at once. A second call while the grace runs changes nothing
    // unless it asks for an immediate kill.
    void terminate(std::chrono::milliseconds grace);

    // For an owner whose start() failed, so that on_exit can never come:
    // SIGKILL (to the group as terminate() does) and reap now. The child
    // was just killed, so the wait is short. Returns its status; "lost"
    // when there is no unreaped child.
    [[nodiscard]] ExitStatus kill_and_reap();

    // Idempotent; `done` (of the first call) runs after both handles are
    // closed and the pidfd with them.
    void close(std::function<void()> done = {});
    [[nodiscard]] bool closing() const { return closing_; }

private:
    void on_readable();
    void send_to_all(int sig);
    void handle_closed();

    uv_loop_t* loop_ = nullptr;
    uv::Poll poll_;
    uv::Timer kill_timer_;
    Fd pidfd_;
    pid_t pid_ = -1;
    bool session_leader_ = false;
    bool reaped_ = false;
    bool kill_scheduled_ = false;
    bool closing_ = false;
    int open_handles_ = 2;
    std::chrono::steady_clock::time_point started_{};
    ExitCallback on_exit_;
    std::function<void()> on_closed_;
};

}  // namespace sb::process
