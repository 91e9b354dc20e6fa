// tcpmux (RFC 1078): one port where a client names the service it wants.
//
// TcpmuxSession reads the request line — a name and CRLF, at most
// k_tcpmux_max_line bytes, within k_tcpmux_timeout — without reading a byte
// past it (it peeks for the line end, then consumes exactly the line), so
// what the client sent after the CRLF is still in the socket for the
// service, whichever way that service reads it: a child handed the socket
// itself (io "socket") or the server's own splice pump. "HELP" gets the
// names on offer, one per line; a name is handed to the server
// (TcpmuxDirectory), which admits the client to that service and starts
// its session; an unknown name gets "-" and a reason. Either way this
// session then ends. Owns the client fd until the hand-over, and one Poll
// and one Timer.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "services/session.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/net/endpoint.hpp"
#include "uv/poll.hpp"
#include "uv/timer.hpp"

namespace sb::services {

inline constexpr std::size_t k_tcpmux_max_line = 256;  // the name, CR and LF
inline constexpr std::chrono::milliseconds k_tcpmux_timeout{10'000};

// The server's side of a hand-over.
class TcpmuxDirectory {
public:
    // The tcpmux names of the enabled services, sorted.
    [[nodiscard]] virtual std::vector<std::string> tcpmux_names() const = 0;
    // Starts the service called `name` (any case) on `fd`, as a new
    // connection. Returns "" when it took `fd`; otherwise the reason to
    // give the client ("Service not available"), and `fd` is untouched.
    [[nodiscard]] virtual std::string tcpmux_hand_over(std::string_view name, Fd& fd) = 0;

protected:
    ~TcpmuxDirectory() = default;
};

class TcpmuxSession final : public Session {
public:
    TcpmuxSession(uv_loop_t* loop, SessionObserver& observer, Fd fd, TcpmuxDirectory& directory);

    void start() override;
    void stop(std::string_view reason) override;

private:
    void on_readable();
    // Writes `text` if the socket takes it at once (it is short), then ends.
    void answer_and_finish(std::string_view text, std::string_view reason);
    void finish(std::string_view reason);
    void close_handles();
    void handle_closed();

    Fd fd_;
    TcpmuxDirectory* directory_;
    uv::Poll poll_;
    uv::Timer timer_;
    std::string reason_;
    int open_handles_ = 2;  // poll_ and timer_ until their close callbacks ran
    bool finishing_ = false;
};

}  // namespace sb::services
