// Listener: one bound listening socket of a service, watched by the loop.
//
// Owns an io::Acceptor (the socket fd, its poll, the UNIX socket file it
// created; shared with the control socket), and adds what a service needs:
// the configured listen entry, the reasons to pause, and a handler. For
// stream sockets the acceptor accepts with accept4 and a budget per
// wakeup, so a full fd table pauses the listener instead of spinning
// (libuv 1.44's own accept loop spins on EMFILE). For UDP it only says
// that datagrams are waiting. The server owns Listeners; a Listener dies
// in close(): the acceptor closes (poll, then fd, then the socket file if
// asked and still ours), then the Listener's memory.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "io/acceptor.hpp"
#include "net/socket.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/config.hpp"

namespace sb::server {

class Listener;

class ListenerHandler {
public:
    // A new connection: `fd` is non-blocking and CLOEXEC, and now the handler's.
    virtual void on_accepted(Listener& listener, Fd fd, const net::SockAddr& peer) = 0;
    // UDP, or a stream listener in hand-off mode (wait services): something
    // is waiting on listener.fd() and the handler takes it from there.
    virtual void on_ready(Listener& listener) = 0;
    // accept4 failed with a resource error (EMFILE, ENFILE, ENOBUFS, ENOMEM).
    virtual void on_accept_exhausted(Listener& listener, int err) = 0;
    // accept4 failed with an error that is neither a resource error, nor one
    // of a single connection (those are retried), nor "not listening": the
    // handler logs and counts it and pauses the listener for a moment, so
    // that an error that persists is not met again on every loop turn.
    virtual void on_accept_failed(Listener& listener, int err) = 0;
    // The poll reported an error (a negative libuv status; the listener no
    // longer watches), or accept4 said the socket does not listen any more
    // (UV_EINVAL). The handler must log it and revive or replace the listener.
    virtual void on_listener_broken(Listener& listener, int status) = 0;

protected:
    ~ListenerHandler() = default;
};

// Why a listener is not watching its socket; it watches only when none apply.
// A new listener starts with k_pause_starting.
enum PauseReason : std::uint8_t {
    k_pause_limit = 1,      // max_connections with on_limit "pause"
    k_pause_fds = 2,        // fd budget or EMFILE
    k_pause_disabled = 4,   // ctl disable, or the service is enabled: false
    k_pause_wait_child = 8, // a wait-mode child owns the socket
    k_pause_stopping = 16,  // shutdown, drain, or service removed
    k_pause_starting = 32,  // bound but not yet serving (during apply)
    k_pause_broken = 64,    // stopped listening and could not be bound again yet
};

class Listener {
public:
    // Takes ownership of `bound.fd`. Returns nullptr (and closes the fd) if
    // the loop refuses the poll handle; `error` then says why.
    static Listener* adopt(uv_loop_t* loop, const config::Listen& listen, net::BoundSocket bound,
                           std::string& error);

    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    void set_handler(ListenerHandler* handler) { handler_ = handler; }
    [[nodiscard]] ListenerHandler* handler() const { return handler_; }

    // The reasons (a mask of PauseReason) not to watch the socket now. The
    // server derives them from its state in one place
    // (Server::refresh_pauses) and sets them whole.
    void set_pause_reasons(std::uint8_t reasons);
    [[nodiscard]] std::uint8_t pause_reasons() const { return pause_reasons_; }
    [[nodiscard]] bool paused_for(PauseReason reason) const { return (pause_reasons_ & reason) != 0; }
    [[nodiscard]] bool serving() const { return pause_reasons_ == 0; }

    // Takes options changed in place by a reload (backlog, UNIX mode/owner).
    void update(const config::Listen& listen) { listen_ = listen; }

    [[nodiscard]] int fd() const { return acceptor_->fd(); }
    [[nodiscard]] const config::Listen& listen() const { return listen_; }
    [[nodiscard]] const net::Endpoint& endpoint() const { return listen_.endpoint; }
    // The UNIX socket file it created (empty path: none).
    [[nodiscard]] const net::SocketFile& file() const { return acceptor_->file(); }
    [[nodiscard]] bool is_datagram() const { return listen_.endpoint.transport == net::Transport::udp; }
    // Hand-off mode: never accept; tell the handler the socket is ready.
    void set_handoff(bool handoff) { acceptor_->set_handoff(handoff || is_datagram()); }
    // Accept in blocking mode: for io "socket", whose connections go
    // straight to a child that expects a blocking socket.
    void set_accept_blocking(bool blocking) { acceptor_->set_accept_blocking(blocking); }

    // Moves between overlapping addresses (listener_moves.cpp): gives up
    // the address at once, by putting an unbound socket of the same kind in
    // place of the bound one under the same fd number (so the poll handle
    // stays valid), and watches nothing until restore_address() or close().
    // TCP and UDP only; returns 0 or a negative errno.
    [[nodiscard]] int release_address();
    // After a failed move: binds the address again under the same fd number
    // and watches as before. Returns 0, or a negative errno with `error` set.
    [[nodiscard]] int restore_address(std::string& error);
    [[nodiscard]] bool address_released() const { return released_; }

    // A stream socket that still listens: SO_ACCEPTCONN is set and poll
    // reports no hang-up (a child that called shutdown() on it ends both).
    [[nodiscard]] bool listening() const;
    // Could not be revived (listener_recovery.cpp): paused until it is.
    void set_broken(bool broken) { broken_ = broken; }
    [[nodiscard]] bool broken() const { return broken_; }
    // Watches again if it should (after a poll error stopped the watch).
    void rearm() { update_watch(); }
    // What the poll callback does with (status, events); public so that
    // tests can hand it a libuv error.
    void on_poll_event(int status, int events);

    // Stops watching, closes the fd, removes a UNIX socket file this
    // listener created when `remove_file`, and frees itself. `done` runs
    // after that.
    void close(bool remove_file, std::function<void()> done = {});

    static constexpr int k_accept_budget = io::Acceptor::k_default_budget;

private:
    Listener(const config::Listen& listen, io::Acceptor* acceptor);
    ~Listener() = default;
    void update_watch();

    config::Listen listen_;
    io::Acceptor* acceptor_;  // frees itself in close()
    std::uint8_t pause_reasons_ = k_pause_starting;
    bool released_ = false;  // release_address(): the fd holds an unbound socket
    bool broken_ = false;
    ListenerHandler* handler_ = nullptr;
};

}  // namespace sb::server
