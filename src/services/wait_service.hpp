// WaitService: exec with "wait": true — one child at a time owns the
// listening socket (inetd's "wait", systemd's Accept=no).
//
// When the socket has a connection or datagram waiting, the server calls
// trigger(): the child starts with the socket at fd 0 and 1 ("inetd") or at
// fd 3 with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES ("systemd"). From
// trigger() until the child has exited, and through a backoff after it, the
// server must not watch the socket (hold, then release). A child that exits
// quickly, having failed, or having left its work waiting (over UDP the very
// datagram that woke it unread, over TCP the accept queue as long as it found
// it: not one of the connections waiting then taken), is restarted only
// after a growing backoff; so is a spawn that failed.
//
// Owns the running child (ChildRun), one timer (the backoff while serving,
// the retire deadline once closing) and, while a child runs, a duplicate of
// the socket: the child's blocking mode lives in the file description they
// share, and the duplicate lets it be undone when the child exits even if
// the server has closed its own fd by then. Does not own the server's fd.
// Heap-allocated by the server; dies through close(), which frees it once
// its child has exited and its handles have closed. Loop thread only.
#pragma once

#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "process/spawn.hpp"
#include "services/child_run.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/config.hpp"
#include "uv/timer.hpp"

namespace sb::services {

class WaitService {
public:
    // Called from trigger() and from loop callbacks; never after close().
    struct Events {
        std::function<void()> hold;     // stop watching the socket: a child (or a backoff) has it
        std::function<void()> release;  // watch it again
        std::function<void(pid_t)> spawned;
        std::function<void(std::string_view)> spawn_failed;
        // Also after close(), for a child that outlived it.
        std::function<void(pid_t, const process::ExitStatus&)> exited;
    };

    static constexpr std::chrono::milliseconds k_quick_exit{1000};  // shorter runs may count as failures
    static constexpr std::chrono::milliseconds k_first_backoff{100};
    static constexpr std::chrono::milliseconds k_max_backoff{30000};
    // For close(): a running child keeps the socket until terminate().
    static constexpr std::chrono::milliseconds k_no_deadline = std::chrono::milliseconds::max();

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
    // Quick failures in a row; the next backoff grows with them.
    [[nodiscard]] unsigned failures() const { return failures_; }

    // Stops serving: no more children, and no hold or release from now on.
    // A running child may go on for `grace` (k_no_deadline: until
    // terminate()), then gets SIGTERM, and SIGKILL after its exec grace.
    // `done` runs once it has exited and every handle is closed, possibly
    // before close() returns; then the service frees itself.
    void close(std::chrono::milliseconds grace, std::function<void()> done = {});
    // After close(): the grace ends now.
    void terminate();

private:
    ~WaitService() = default;
    [[nodiscard]] int start_child(int socket, std::string& error);
    void on_child_done(const process::ExitStatus& status);
    // The datagram at the head of a UDP socket's queue, as far as a peek
    // tells one from another: its sender, length and first bytes.
    struct DatagramHead {
        sockaddr_storage from{};
        socklen_t from_length = 0;
        ssize_t length = 0;
        std::array<char, 64> bytes{};
        friend bool operator==(const DatagramHead& a, const DatagramHead& b) {
            return a.from_length == b.from_length && a.length == b.length && a.bytes == b.bytes &&
                   std::memcmp(&a.from, &b.from, a.from_length) == 0;
        }
    };
    [[nodiscard]] std::optional<DatagramHead> peek_datagram() const;
    void back_off(std::string_view reason);
    void retire_child();
    void release_socket();
    void set_blocking(bool blocking);
    void close_timer();
    void maybe_free();

    uv_loop_t* loop_;
    process::Spawner& spawner_;
    Events events_;
    std::unique_ptr<ChildRun> child_;
    std::shared_ptr<const config::Service> running_;
    uv::Timer timer_;
    std::chrono::steady_clock::time_point started_{};
    Fd socket_;  // our duplicate of the socket, while a child has it
    std::optional<DatagramHead> woke_by_;  // UDP: the datagram waiting when the child started
    // TCP: the peers waiting in the accept queue when the child started.
    std::optional<std::set<std::string>> queue_at_start_;
    unsigned failures_ = 0;
    int closing_children_ = 0;
    bool backing_off_ = false;
    bool closing_ = false;
    bool timer_closed_ = false;
    std::function<void()> on_closed_;
};

}  // namespace sb::services
