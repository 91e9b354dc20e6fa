// ControlServer: the control socket. It listens on the configured UNIX
// socket (and, if configured, one loopback TCP address), accepts control
// clients, logs who asked for what, and carries out their requests on the
// Server. It follows the server as a ServerObserver: it counts every
// reload and its result, a reload that moves the socket rebinds it,
// SIGUSR1 dumps the state to the log, and the server's closing closes it.
//
// Who may do what is control/access.hpp's. No peer can lock the others
// out: each peer (a uid on the UNIX socket, an address on TCP) holds at
// most k_max_per_peer connections, the last k_reserved connections are
// kept for root and the server's own uid, and a request must be complete
// and its reply read within k_request_deadline_ms of its first byte. On
// TCP the first line that is not a request closes the connection, so an
// HTTP request (a browser's fetch, say) is never read past its first line.
//
// Owns its listening sockets (an io::Acceptor each, the one listener
// implementation it shares with the services; they free themselves after
// their close callbacks), the UNIX socket file it created (removed when it
// closes, only while it is still ours), a one-second timer, and the set of
// open ControlConnections (which free themselves). Created by `switchboard run` after the first apply; it must
// outlive the loop's run, since its handles close asynchronously.
// Loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>

#include "control/access.hpp"
#include "control/control_connection.hpp"
#include "control/state.hpp"
#include "server/server_control.hpp"
#include "uv/timer.hpp"

namespace sb::control {

class ControlServer final : public server::ServerObserver, private ControlConnectionOwner {
public:
    // More clients than this at once are turned away with an error reply.
    static constexpr std::size_t k_max_connections = 64;
    // Of those, the last ones only root and the server's own uid may take.
    static constexpr std::size_t k_reserved = 8;
    // At most this many at once from one uid (UNIX) or address (TCP);
    // root and the server's own uid are bound by the total only.
    static constexpr std::size_t k_max_per_peer = 16;
    // A client that sends nothing and reads nothing for this long is closed.
    static constexpr std::uint64_t k_idle_ms = 60'000;
    // A request must arrive whole, and its reply be read, within this long
    // of its first byte (a reload's own wait not counted).
    static constexpr std::uint64_t k_request_deadline_ms = 10'000;

    explicit ControlServer(server::ServerControl& server);
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;
    ~ControlServer();

    // Binds the configured sockets. Returns an error sentence (nothing is
    // left bound then), or empty on success. A control section with no socket
    // and no TCP address starts nothing and succeeds.
    [[nodiscard]] std::string start(const config::Control& control);

    // Closes the sockets, the timer and every client. Idempotent.
    void close();

    [[nodiscard]] const ReloadHistory& reloads() const { return history_.reloads; }
    [[nodiscard]] const ControlHistory& history() const { return history_; }
    // The UNIX socket path actually bound (empty when none).
    [[nodiscard]] std::string socket_path() const;

    // server::ServerObserver
    void on_applied(const config::Config& config, const server::ApplyReport& report) override;
    void on_reload_failed(const server::ApplyReport& report) override;
    void on_dump_requested() override;
    void on_closing() override;

private:
    struct Socket;

    // ControlConnectionOwner
    std::optional<Reply> on_request(ControlConnection& connection, std::string_view line) override;
    void on_connection_closed(ControlConnection& connection) override;

    Socket* bind(const config::Listen& listen, std::string& error);
    // A connection the acceptor took: served, or turned away with the reason.
    void admit(Fd fd);
    // Empty when `peer` may have one more connection, else why not.
    [[nodiscard]] std::string no_room_for(const ControlPeer& peer) const;
    void rebind(const config::Control& next);
    void tick();

    server::ServerControl& server_;
    config::Control bound_;  // what is actually listening
    Socket* unix_ = nullptr;
    Socket* tcp_ = nullptr;
    std::set<ControlConnection*> connections_;
    uv::Timer tick_;
    ControlHistory history_;
    AccessPolicy access_;
    std::uint64_t busy_logged_ = 0;  // refused.busy when the tick last ran: one control-busy line per tick
    bool started_ = false;
    bool closed_ = false;
};

}  // namespace sb::control
