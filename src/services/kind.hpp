// ServiceKind: what one kind of service (built-in, exec, exec-wait, ...)
// does with the traffic of its listeners, behind one interface.
//
// apply() picks the kind once per service definition (make_kind) and the
// service's runtime holds it; from then on the server asks the kind, never
// the definition, how to accept, what a connection costs in fds, how to
// serve a ready datagram or wake a wait-mode child, and how to describe the
// service. A kind is immutable and shared (shared_ptr<const>) by the
// runtime and the connections it started. Loop thread only.
//
// Adding a kind: one file under src/services/ implementing ServiceKind and
// a factory, plus one line in the registry in kinds.cpp.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "services/builtin_datagram.hpp"
#include "services/session.hpp"
#include "switchboard/config.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/net/endpoint.hpp"

namespace sb::process {
class Spawner;
}
namespace sb::io {
class PipePool;
}

namespace sb::services {

class WaitService;
class TcpmuxDirectory;

// How a kind's listeners give it traffic.
enum class Intake : std::uint8_t {
    accept,           // the server accepts; the client socket is non-blocking
    accept_blocking,  // the server accepts a blocking socket (handed to a child as it is)
    hand_off,         // never accept: on readiness the kind takes the listening socket (wake())
};

// One admitted stream connection, for start_session().
struct Arrival {
    uv_loop_t* loop = nullptr;
    SessionObserver* observer = nullptr;
    Fd fd;  // accepted; the session owns it from now on
    net::SockAddr peer;   // the client: from accept(), or named by a PROXY header
    net::SockAddr local;  // the address it connected to, from a PROXY header; empty: the socket's own
    net::Transport transport = net::Transport::tcp;
    process::Spawner* spawner = nullptr;
    io::PipePool* pipes = nullptr;  // for kinds that splice socket to socket
    std::string greeting;  // sent to the client first (banners)
    TcpmuxDirectory* tcpmux = nullptr;  // where a tcpmux session hands its client
};

// How a service describes itself to people: the start-up table, `ctl
// services`, the state dump and metrics.
struct KindDescription {
    std::string kind;    // "builtin", "exec" or "redirect"
    std::string action;  // "echo", the program, or the target
    std::string table;   // the start-up table's ACTION column: "builtin echo", "exec", "redirect"
};

class ServiceKind {
public:
    ServiceKind() = default;
    ServiceKind(const ServiceKind&) = delete;
    ServiceKind& operator=(const ServiceKind&) = delete;
    virtual ~ServiceKind() = default;

    [[nodiscard]] virtual KindDescription describe() const = 0;
    [[nodiscard]] virtual Intake intake() const { return Intake::accept; }

    // The fds one accepted connection keeps open while it runs, the client
    // socket included: what the fd budget leases to it.
    [[nodiscard]] virtual std::uint32_t connection_fds() const { return 1; }
    // Fds needed for a moment beyond connection_fds() when a connection
    // starts (a child's ends of its pipes); a connection is refused when
    // they do not fit the budget.
    [[nodiscard]] virtual std::uint32_t transient_fds() const { return 0; }
    // Whether the kind starts children, so max_children applies to it.
    [[nodiscard]] virtual bool spawns_children() const { return false; }

    // A session for an admitted connection (intake accept or
    // accept_blocking). Never called for hand_off kinds.
    [[nodiscard]] virtual std::unique_ptr<Session> start_session(Arrival arrival) const = 0;

    // Datagram listeners of a kind that answers them inline (built-ins):
    // true, and serve_datagrams() reads what waits. Such datagrams are not
    // connections: no connection limit pauses the listener.
    [[nodiscard]] virtual bool serves_datagrams() const { return false; }
    // Whether a datagram from `peer` must be refused before any admission
    // (reflection and amplification).
    [[nodiscard]] virtual bool refuses_datagram_from(const net::SockAddr& /*peer*/) const { return false; }
    virtual void serve_datagrams(int /*fd*/, const AdmitDatagram& /*admit*/, DatagramStats& /*stats*/) const {}

    // hand_off kinds: something waits on `socket`; start the child through
    // `waiter` unless it is busy. The fds a running child costs the server
    // are child_fds().
    virtual void wake(WaitService& /*waiter*/, int /*socket*/) const {}
    [[nodiscard]] virtual std::uint32_t child_fds() const { return 0; }
};

// The kind for `definition` (the registry in kinds.cpp). Never null for a
// validated definition.
[[nodiscard]] std::shared_ptr<const ServiceKind> make_kind(std::shared_ptr<const config::Service> definition);

}  // namespace sb::services
