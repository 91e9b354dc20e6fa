// WaitService: exec with "wait": true — one child at a time owns the
// listening socket (inetd's "wait", systemd's Accept=no).
//
// When the socket has a connection or datagram waiting, the server calls
// trigger(): the child starts with the socket at fd 0 and 1 ("inetd") or at
// fd 3 with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES ("systemd"), and the
// server stops watching the socket until the child exits. A child that
// exits quickly again and again is restarted only after a growing backoff.
//
// Owns the running child (ChildRun) and a backoff timer; does not own the
// socket. Heap-allocated by the server; dies through close(), which frees
// it after its handles closed. Loop thread only.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "process/spawn.hpp"
#include "services/child_run.hpp"
#include "switchboard/config.hpp"
#include "uv/timer.hpp"

namespace sb::services {

class WaitService {
public:
    struct Events {
        std::function<void()> hold;     // stop watching the socket: a child has it
        std::function<void()> release;  // watch it again
        std::function<void(pid_t)> spawned;
        std::function<void(std::string_view)> spawn_failed;
        std::function<void(pid_t, const process::ExitStatus&)> exited;
    };

    static constexpr std::chrono::milliseconds k_quick_exit{1000};  // shorter runs count as failures
    static constexpr std::chrono::milliseconds k_first_backoff{100};
    static constexpr std::chrono::milliseconds k_max_backoff{30000};

    WaitService(uv_loop_t* loop, process::Spawner& spawner, Events events);
    WaitService(const WaitService&) = delete;
    WaitService& operator=(const WaitService&) = delete;

    // Init failed: close() it.
    [[nodiscard]] int init();

    // Something waits on `socket`: start the child unless one runs or the
    // backoff holds. `service` is the definition to start it with.
    void trigger(int socket, std::shared_ptr<const config::Service> service);

    [[nodiscard]] bool running() const { return child_ != nullptr; }
    [[nodiscard]] pid_t pid() const;

    // Terminates a running child (SIGTERM, SIGKILL after its grace); `done`
    // runs once it has exited and every handle is closed; then frees itself.
    void close(std::function<void()> done = {});

private:
    ~WaitService() = default;
    void on_child_done(const process::ExitStatus& status);
    void retire_child();
    void set_blocking(bool blocking);
    void maybe_free();

    uv_loop_t* loop_;
    process::Spawner& spawner_;
    Events events_;
    std::unique_ptr<ChildRun> child_;
    std::shared_ptr<const config::Service> running_;
    uv::Timer backoff_;
    std::chrono::steady_clock::time_point started_{};
    int socket_ = -1;
    unsigned failures_ = 0;
    int closing_children_ = 0;
    bool backing_off_ = false;
    bool closing_ = false;
    bool timer_closed_ = false;
    std::function<void()> on_closed_;
};

}  // namespace sb::services
