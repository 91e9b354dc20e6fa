// ProxyWait: one accepted connection on a PROXY protocol listener whose
// header is still being read.
//
// The server makes one for each connection from a trusted peer on a service
// with proxy_protocol, before any admission. It peeks at the socket, lets a
// ProxyHeaderParser say how many bytes are header, and consumes exactly
// those, so the first byte the service (or a child handed the socket) reads
// is the client's own. On a complete header it hands the fd, with the
// client the header names, back to the server's admission; on a malformed
// header, EOF, or the timeout it closes the connection and the server counts
// it.
//
// Owns the fd (until handed on), its lease, one Poll and one Timer. Owned
// by the server's list of waits; frees itself after its handles have
// closed. Loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "net/proxy_protocol_parse.hpp"
#include "server/fd_budget.hpp"
#include "switchboard/config.hpp"
#include "switchboard/fd.hpp"
#include "uv/poll.hpp"
#include "uv/timer.hpp"

namespace sb::server {

struct ServiceRuntime;

struct ProxyWait {
    // What the server needs back to continue where accepting left off.
    std::shared_ptr<ServiceRuntime> service;
    config::Listen listen;
    bool blocking = false;  // the kind takes a blocking socket: restore it after reading
    Fd fd;
    net::SockAddr peer;  // the balancer
    FdLease lease;
    std::uint64_t accepted_ns = 0;

    // Header read (ok) or not (`error` says why); the wait is unlinked and
    // closing when this runs. With ok, `fd` is still here to be moved on.
    std::function<void(ProxyWait& wait, bool ok, const std::string& error)> on_done;

    [[nodiscard]] int start(uv_loop_t* loop, config::Duration timeout);
    // Ends the wait without a header (shutdown): closes the fd, no callback.
    void abandon();

    ProxyWait* prev = nullptr;
    ProxyWait* next = nullptr;
    net::ProxyHeaderParser parser;

private:
    void on_readable();
    void finish(bool ok, const std::string& error);
    void close_handles();

    uv::Poll poll_;
    uv::Timer timer_;
    bool finished_ = false;
    int open_ = 2;
};

}  // namespace sb::server
