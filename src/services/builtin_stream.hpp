// BuiltinStream: one stream (TCP or UNIX) connection to a built-in service,
// served inline on the loop: echo, discard, chargen, daytime, time.
//
// Owns the client fd and one uv::Poll. Holds a heap buffer only while the
// client is slower than we are (echo's unsent tail, the rest of a banner or
// a daytime line), and then stops reading until it has drained: that is the
// backpressure that keeps a client that sends without reading from growing
// our memory.
#pragma once

#include <memory>
#include <string>

#include "services/session.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/config.hpp"
#include "uv/poll.hpp"

namespace sb::services {

class BuiltinStream final : public Session {
public:
    // `prelude` is sent before the protocol's own bytes (the banner).
    BuiltinStream(uv_loop_t* loop, SessionObserver& observer, Fd fd, config::Builtin kind, std::string prelude);

    void start() override;
    void stop(std::string_view reason) override;

private:
    void on_event(int status, int events);
    void on_readable();
    void on_writable();
    // Writes the pending bytes; returns false if the session ended.
    bool flush_pending();
    bool write_chargen();
    void update_watch();
    void finish(std::string_view reason);

    Fd fd_;
    config::Builtin kind_;
    bool finishing_ = false;
    bool close_when_flushed_ = false;
    std::uint32_t chargen_offset_ = 0;
    std::unique_ptr<std::string> pending_;  // unsent bytes, only while there are any
    std::size_t pending_sent_ = 0;
    uv::Poll poll_;
};

}  // namespace sb::services
