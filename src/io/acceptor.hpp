// Acceptor: one bound listening socket watched by the loop, the part that
// the services' listeners (server/listener.hpp) and the control socket
// (control/control_server.hpp) share.
//
// Owns the socket fd, a uv::Poll on it and the UNIX socket file it created,
// if any: close() removes that file only while it is still the one created
// (same device and inode), so a file another process has put there since
// is never unlinked. For a stream socket it accepts itself, with accept4
// and a budget per wakeup, so a full fd table is reported (and the owner
// stops watching) instead of spinning as libuv 1.44's own accept loop
// does. For UDP, or a stream socket in hand-off mode, it only says that
// the socket is ready. Its owner creates it with adopt() and ends it with
// close(); it frees itself after the poll's close callback. Loop thread only.
#pragma once

#include <functional>
#include <string>

#include "net/socket.hpp"
#include "switchboard/fd.hpp"
#include "uv/poll.hpp"

namespace sb::io {

class Acceptor {
public:
    struct Events {
        // A new connection: `fd` is CLOEXEC, non-blocking unless
        // set_accept_blocking(true), and now the callee's.
        std::function<void(Fd fd, const net::SockAddr& peer)> accepted;
        // Datagram and hand-off sockets: something is waiting on fd().
        std::function<void()> ready;
        // accept4 failed with an error that is not transient (EAGAIN,
        // EINTR and one connection's errors, see one_connections_error,
        // are): for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM,
        // see out_of_resources), or something else. The accept loop stops
        // for this wakeup.
        std::function<void(int err)> failed;
        // libuv reported an error on the poll (status < 0); optional.
        std::function<void(int status)> poll_error;
    };

    // Takes ownership of `bound.fd` and `bound.file`. Returns nullptr (the
    // fd closed, the file removed) if the loop refuses the poll handle;
    // `error` then says why, naming `what`.
    static Acceptor* adopt(uv_loop_t* loop, net::BoundSocket bound, const std::string& what, std::string& error);

    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    void set_events(Events events) { events_ = std::move(events); }
    // Datagram or hand-off: never accept; report ready() instead.
    void set_handoff(bool handoff) { handoff_ = handoff; }
    void set_accept_blocking(bool blocking) { accept_blocking_ = blocking; }
    void set_budget(int accepts_per_wakeup) { budget_ = accepts_per_wakeup; }

    // Watches for readiness, or stops. An accept loop in progress stops
    // at once when the callee stops the watch (or closes). Returns libuv's
    // error if the loop refused (the acceptor then does not watch).
    int watch(bool on);
    [[nodiscard]] bool watching() const { return watching_; }

    [[nodiscard]] int fd() const { return fd_.get(); }
    // libuv stopped the poll after an error: the next watch(true) must
    // start it again for real.
    void stopped_by_error() {
        poll_.stopped_by_error();
        watching_ = false;
    }
    // What a readable event does; for tests that drive the poll by hand.
    void on_ready_for_test() { on_readable(); }
    // The UNIX socket file it created (empty path: none).
    [[nodiscard]] const net::SocketFile& file() const { return file_; }

    // Stops watching, closes the fd, removes the socket file this acceptor
    // created when `remove_file` (only if it is still ours), and frees
    // itself; `done` runs after that. Reports nothing more.
    void close(bool remove_file, std::function<void()> done = {});

    static constexpr int k_default_budget = 64;

    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the system, not the socket, is short.
    [[nodiscard]] static bool out_of_resources(int err);
    // An error accept4 reports for one connection, which it has dropped
    // (its pending network error, ECONNABORTED, EPERM): retried at once.
    [[nodiscard]] static bool one_connections_error(int err);

private:
    explicit Acceptor(net::BoundSocket bound);
    ~Acceptor() = default;
    void on_readable();

    Fd fd_;
    net::SocketFile file_;
    Events events_;
    int budget_ = k_default_budget;
    bool handoff_ = false;
    bool accept_blocking_ = false;
    bool watching_ = false;
    bool closing_ = false;
    uv::Poll poll_;
};

}  // namespace sb::io
