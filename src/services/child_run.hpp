// ChildRun: one started child whose stderr goes to the server log, line by
// line, tagged with its service and pid — never to the client.
//
// Owns the child's watch (pidfd), the read end of its stderr pipe and a
// short timer. Reports once, through on_done and never from within start(),
// when the child has been reaped and its stderr has ended; a grandchild that
// keeps stderr open cannot hold that up for more than k_stderr_linger. A
// child that cannot be watched is killed and reaped at once, then reported
// like any other. Its owner (an exec session, a wait-mode service) holds it
// by value and keeps it alive until the callback of close() has run. Loop
// thread only.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>

#include "io/line_splitter.hpp"
#include "process/child.hpp"
#include "process/spawn.hpp"
#include "uv/timer.hpp"

namespace sb::services {

class ChildRun {
public:
    using DoneCallback = std::function<void(const process::ExitStatus&)>;
    static constexpr std::chrono::milliseconds k_stderr_linger{200};

    ChildRun() = default;
    ChildRun(const ChildRun&) = delete;
    ChildRun& operator=(const ChildRun&) = delete;

    // Spawns `request` with a new stderr pipe at fd 2 (added to its fds).
    // Returns 0, or a negative errno with `error` set; on failure nothing
    // was started and close() still has to be called.
    [[nodiscard]] int start(uv_loop_t* loop, process::Spawner& spawner, process::SpawnRequest& request,
                            const std::string& service, DoneCallback on_done, std::string& error);

    [[nodiscard]] pid_t pid() const { return pid_; }
    [[nodiscard]] bool running() const { return started_ && !reaped_; }
    [[nodiscard]] const process::ExitStatus& status() const { return status_; }

    // SIGTERM now, SIGKILL after `grace` (see ChildWatch::terminate).
    void terminate(std::chrono::milliseconds grace);

    // Test seam: the next start() behaves as if the loop refused to watch
    // the child's pidfd and, when `stderr_too`, its stderr pipe as well.
    void fail_watches_for_testing(int error, bool stderr_too) {
        injected_watch_error_ = error;
        injected_stderr_failure_ = stderr_too;
    }

    // Idempotent; `done` runs after every handle and fd is released.
    void close(std::function<void()> done = {});

private:
    void maybe_done();
    void handle_closed();

    process::ChildWatch watch_;
    io::LineSplitter stderr_;
    uv::Timer linger_;
    process::ExitStatus status_;
    std::string service_;
    pid_t pid_ = 0;
    bool started_ = false;
    bool reaped_ = false;
    bool stderr_ended_ = false;
    bool reported_ = false;
    bool closing_ = false;
    bool injected_stderr_failure_ = false;
    int injected_watch_error_ = 0;
    int open_parts_ = 3;
    DoneCallback on_done_;
    std::function<void()> on_closed_;
};

}  // namespace sb::services
