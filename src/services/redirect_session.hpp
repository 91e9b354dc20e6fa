// RedirectSession: one client connection forwarded to the upstream of a
// redirect service.
//
// Resolves the target (a name through libuv's getaddrinfo, on the
// threadpool, never on the loop), tries each address in order with the
// service's connect_timeout per address, then hands both sockets to a
// SpliceBridge, which writes the PROXY header (if configured) upstream and
// the banner (if any) to the client first. When no address connects the
// client is closed and the observer hears on_forward_failed with the
// reason.
//
// Owns the client fd, the upstream socket while connecting, the resolver
// request while it runs, a timer, the connecting socket's Poll, and the
// bridge. Counts its outstanding closes (and a cancelled look-up) and
// reports done after the last. Holds the service definition it started
// with, so a reload never changes a running connection. Loop thread only.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "io/splice_bridge.hpp"
#include "services/session.hpp"
#include "switchboard/config.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/net/endpoint.hpp"
#include "uv/poll.hpp"
#include "uv/timer.hpp"

namespace sb::services {

class RedirectSession final : public Session, private io::SpliceBridge::Owner {
public:
    // `peer` and `local` are the client's address and the one it connected
    // to, for the PROXY header (`local` empty: the client socket's own).
    RedirectSession(uv_loop_t* loop, SessionObserver& observer, Fd client, net::SockAddr peer, net::SockAddr local,
                    std::shared_ptr<const config::Service> service, io::PipePool* pipes, std::string greeting);

    void start() override;
    void stop(std::string_view reason) override;

    [[nodiscard]] std::uint64_t bytes_in() const override { return bridge_.bytes_from(io::SpliceBridge::a); }
    [[nodiscard]] std::uint64_t bytes_out() const override { return bridge_.bytes_from(io::SpliceBridge::b); }
    [[nodiscard]] std::uint64_t last_activity() const override;
    [[nodiscard]] std::string upstream() const override { return upstream_; }

private:
    enum class State : std::uint8_t { resolving, connecting, forwarding, finishing };

    [[nodiscard]] const config::Redirect& redirect() const { return *service_->redirect(); }
    static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;
    void resolved(int status, addrinfo* res);
    void try_next();
    // 0: connected; a positive errno: this address failed at once;
    // EINPROGRESS: wait for the socket to be writable.
    int open_upstream(const net::SockAddr& address);
    void on_connect_event();
    void on_connect_timeout();
    void drop_attempt();
    void connected();
    // Frees what only connecting needed, once its timer has closed.
    void release_connecting();
    bool bridge_fds_changed(int delta) override;
    void bridge_finished(int err) override;
    void bridge_closed() override;
    void fail(std::string error);
    void finish(std::string_view reason);
    void part_closed();

    // What only resolving and connecting need, on the heap until the bridge
    // starts, so a forwarded connection that is established costs less.
    struct Connecting {
        net::SockAddr peer;
        net::SockAddr local;
        std::string greeting;
        std::vector<net::SockAddr> addresses;
        std::size_t next = 0;
        std::string last_error;
        Fd attempt;                              // the upstream socket while it connects
        std::unique_ptr<uv::Poll> attempt_poll;  // one per attempt: a Poll watches one fd for life
        uv::Timer timer;                         // connect_timeout
    };

    std::shared_ptr<const config::Service> service_;
    Fd client_;
    io::PipePool* pipes_;
    State state_ = State::resolving;
    std::string upstream_;  // the target as configured, then the address that connected
    std::unique_ptr<Connecting> connecting_;
    uv_getaddrinfo_t* resolver_ = nullptr;  // while a look-up runs; freed when it calls back
    io::SpliceBridge bridge_;
    bool bridge_started_ = false;
    int pending_ = 0;  // closes and a cancelled look-up still to come back
    std::string_view reason_;
    bool reported_ = false;
};

}  // namespace sb::services
