// ControlConnection: one client of the control socket. It splits what the
// client sends into request lines, hands each line to its owner, and writes
// the reply back before it reads on.
//
// Owns the accepted fd and a uv::Poll on it. The ControlServer creates it
// and keeps it in its set; close() leaves that set at once, and the
// connection frees itself in the poll's close callback, after closing the
// fd. One request at a time: while a reply is being written nothing more
// is read, so a client costs at most one request line (k_max_request) of
// input plus one reply. A line longer than that gets an error reply and
// the connection is closed, as is one whose reply says so (Reply::close).
// A request the owner cannot answer at once (a reload) is answered later
// through respond(); until then nothing more is read. Loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/fd.hpp"
#include "control/access.hpp"
#include "control/commands.hpp"
#include "uv/poll.hpp"

namespace sb::control {

class ControlConnection;

class ControlConnectionOwner {
public:
    // The reply to `line`, or nothing when the owner will call
    // connection.respond() later.
    virtual std::optional<Reply> on_request(ControlConnection& connection, std::string_view line) = 0;
    virtual void on_connection_closed(ControlConnection& connection) = 0;

protected:
    ~ControlConnectionOwner() = default;
};

class ControlConnection {
public:
    // Takes ownership of `fd` (non-blocking). Returns nullptr, the fd
    // closed, if the loop refuses the poll handle.
    static ControlConnection* open(uv_loop_t* loop, Fd fd, ControlConnectionOwner& owner, ControlPeer peer);

    ControlConnection(const ControlConnection&) = delete;
    ControlConnection& operator=(const ControlConnection&) = delete;

    // Writes what it can of a pending reply without waiting, then closes.
    // A reply still owed (see respond) is replaced by `owed_reply`, if given.
    void close(std::string owed_reply = {});
    // Closes with `last_words` as a parting line, unless a reply is still
    // being written (then that is finished as far as it goes without waiting).
    void hang_up(std::string last_words);

    // The reply owed since on_request() returned nothing; reading resumes
    // after it. Ignored once closed.
    void respond(Reply reply);

    [[nodiscard]] const ControlPeer& peer() const { return peer_; }
    [[nodiscard]] std::uint64_t last_activity() const { return last_activity_; }
    // Since when (uv_now) the request in progress has been coming in or its
    // reply going out: from the first byte of a request until its reply is
    // written. Nothing while the connection is idle, or while it waits for
    // a reload, which may take as long as reading the configuration does.
    [[nodiscard]] std::optional<std::uint64_t> busy_since() const;
    [[nodiscard]] bool owes_reply() const { return owes_reply_; }
    // Expires when the connection closes: whoever holds a pointer to it for
    // a later respond() checks this first, as the memory goes soon after.
    [[nodiscard]] std::weak_ptr<const void> lifetime() const { return lifetime_; }

private:
    ControlConnection(uv_loop_t* loop, Fd fd, ControlConnectionOwner& owner, ControlPeer peer);
    ~ControlConnection() = default;

    void on_event(int status, int events);
    void read_some();
    void process();
    void answer(std::string_view line);
    void send_reply(Reply reply);
    // False when the socket failed (the connection is then closed).
    bool flush();
    [[nodiscard]] bool output_pending() const { return sent_ < out_.size(); }

    uv_loop_t* loop_;
    Fd fd_;
    ControlConnectionOwner& owner_;
    ControlPeer peer_;
    std::string in_;
    std::string out_;
    std::size_t sent_ = 0;
    std::uint64_t last_activity_;
    std::optional<std::uint64_t> busy_since_;
    static constexpr std::size_t k_not_discarding = static_cast<std::size_t>(-1);
    std::size_t discarded_ = k_not_discarding;  // input swallowed after an oversized request
    bool eof_ = false;          // the client will send nothing more
    bool close_after_ = false;  // close once the reply is out (oversized request)
    bool owes_reply_ = false;   // on_request() deferred its reply
    bool replied_ = false;      // a reply was handed over since busy_since_ was last updated
    bool closed_ = false;
    std::shared_ptr<const void> lifetime_ = std::make_shared<char>(0);
    uv::Poll poll_;
};

}  // namespace sb::control
