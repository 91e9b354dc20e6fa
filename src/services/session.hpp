// Session: what happens to one accepted connection, whatever the service.
//
// The server creates a session for each admitted connection and owns it
// through its connection record. A session owns its client fd and handles;
// when it is over (the client left, an error, or stop()), it closes them
// and, after the last close callback, reports once to its SessionObserver.
// Only then may the owner free it. Loop thread only.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace sb::services {

struct Outcome {
    std::string_view reason;  // "closed", "eof", "reset", "idle", "stopped", "spawn failed", ...
    pid_t pid = 0;            // the child's pid, if one ran
    int exit_code = -1;       // the child's exit code, if it exited
    int signal = 0;           // the signal that killed the child, if one did
    int error = 0;            // with reason "error": the errno that ended the session, if known
};

class Session;

class SessionObserver {
public:
    // Called once, after every handle of the session has closed.
    virtual void on_session_done(Session& session, const Outcome& outcome) = 0;
    // exec sessions: a child started, could not start, or ended.
    virtual void on_child_spawned(Session& /*session*/, pid_t /*pid*/) {}
    virtual void on_spawn_failed(Session& /*session*/, std::string_view /*error*/) {}
    virtual void on_child_exited(Session& /*session*/, pid_t /*pid*/, int /*exit_code*/, int /*signal*/) {}
    // redirect sessions: the upstream could not be reached (`error` says why).
    virtual void on_forward_failed(Session& /*session*/, std::string_view /*error*/) {}
    // A session takes (delta > 0) or gives back (delta < 0) fds beyond what
    // its kind's connection_fds() leased; false: no room, do without them.
    virtual bool on_fds_changed(Session& /*session*/, int /*delta*/) { return true; }

protected:
    ~SessionObserver() = default;
};

class Session {
public:
    Session(uv_loop_t* loop, SessionObserver& observer) : loop_(loop), observer_(&observer) {}
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    virtual ~Session() = default;

    // Begins serving. May finish the session at once (on_session_done then
    // runs later, from a close callback, never from inside start()).
    virtual void start() = 0;
    // Ends the session now: shutdown, drain expiry, idle timeout.
    virtual void stop(std::string_view reason) = 0;

    [[nodiscard]] virtual std::uint64_t bytes_in() const { return bytes_in_; }    // from the client
    [[nodiscard]] virtual std::uint64_t bytes_out() const { return bytes_out_; }  // to the client
    // uv_now() of the last byte moved either way (or of the start).
    [[nodiscard]] virtual std::uint64_t last_activity() const { return last_activity_; }
    [[nodiscard]] virtual pid_t child_pid() const { return 0; }
    // Where the connection is forwarded to ("127.0.0.1:80"), for the log;
    // empty for sessions that forward nothing.
    [[nodiscard]] virtual std::string upstream() const { return {}; }

protected:
    void touch() { last_activity_ = uv_now(loop_); }
    void report(const Outcome& outcome) { observer_->on_session_done(*this, outcome); }

    uv_loop_t* loop_;
    SessionObserver* observer_;
    std::uint64_t bytes_in_ = 0;
    std::uint64_t bytes_out_ = 0;
    std::uint64_t last_activity_ = uv_now(loop_);
};

}  // namespace sb::services
