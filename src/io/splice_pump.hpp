// SplicePump: moves one connection's bytes between the client socket and
// the stdin/stdout pipes of its child (exec with io: "splice").
//
// Two directions, each a loop of splice(2) calls (socket→pipe and
// pipe→socket need no intermediate pipe and copy nothing through user
// space): "in" is client → to_child, "out" is from_child → client. A
// direction whose destination is full stops watching its source, so a slow
// side throttles the fast one and memory stays bounded by kernel buffers.
// Where the kernel refuses to splice (EINVAL), that direction falls back to
// read/write through a buffer of at most k_chunk bytes, held only while the
// direction is moving data.
//
// Ends: EOF from the client closes to_child (the child reads EOF) while
// output keeps flowing; EOF from the child's stdout shuts down the client's
// write side while input may keep flowing. A child that closes its stdin
// (EPIPE) has further input read and discarded, so the client is never
// blocked and its close is still seen. A reset client ends both directions.
// When the client's input has ended (EOF or a failure), on_input_ended
// runs once, if set; when both directions have ended, on_finished runs once.
//
// Owns the three fds from start() on (even if start() fails) and one Poll
// per fd. Each child-side fd is closed as soon as its direction ends (after
// its Poll has closed); the client fd lives until close(). The owner keeps
// the pump alive until the callback of close() has run. Needs SIGPIPE
// ignored, as the server does. Loop thread only.
#pragma once

#include <uv.h>

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "switchboard/fd.hpp"
#include "io/pipe.hpp"
#include "uv/poll.hpp"

namespace sb::io {

class SplicePump {
public:
    enum class Way : std::uint8_t { in, out };  // in: client → child; out: child → client

    static constexpr std::size_t k_chunk = 64 * 1024;  // per copy: the fallback buffer's size
    // Per splice call: as much as an exec session's pipe holds.
    static constexpr std::size_t k_splice_length = k_splice_pipe_capacity;
    static constexpr int k_calls_per_wakeup = 16;       // fairness between connections

    // splice(from, NULL, to, NULL, length, flags); a test seam.
    using SpliceCall = ssize_t (*)(int from, int to, std::size_t length, unsigned flags);

    SplicePump() = default;
    SplicePump(const SplicePump&) = delete;
    SplicePump& operator=(const SplicePump&) = delete;
    SplicePump(SplicePump&&) = delete;
    SplicePump& operator=(SplicePump&&) = delete;
    ~SplicePump() = default;

    // `client`: a connected stream socket (TCP or UNIX); `to_child`: the
    // write end of the child's stdin pipe; `from_child`: the read end of its
    // stdout pipe. libuv makes all three non-blocking. Returns 0 or a libuv
    // error; either way the pump owns the fds and must be closed.
    [[nodiscard]] int start(uv_loop_t* loop, int client, int to_child, int from_child,
                            std::function<void()> on_finished);
    // Set before start(): told when the client will send nothing more.
    void set_on_input_ended(std::function<void()> callback) { on_input_ended_ = std::move(callback); }

    // Bytes delivered client → child and child → client.
    [[nodiscard]] std::uint64_t bytes_in() const { return in_.bytes; }
    [[nodiscard]] std::uint64_t bytes_out() const { return out_.bytes; }
    // uv_now() of the last wakeup that moved bytes (or of start()), for idle timeouts.
    [[nodiscard]] std::uint64_t last_activity() const { return last_activity_; }

    [[nodiscard]] bool done(Way way) const { return direction(way).done; }
    // 0 for a clean end (EOF, or not ended), else a negative errno: -EPIPE
    // for input the child refused, the socket error for a failed client.
    [[nodiscard]] int error(Way way) const { return direction(way).error; }
    [[nodiscard]] bool finished() const { return in_.done && out_.done; }
    // User-space buffer held by a direction (0 while it splices): ≤ k_chunk.
    [[nodiscard]] std::size_t buffered(Way way) const { return direction(way).buffer ? k_chunk : 0; }

    // Stops both directions without reporting on_finished, closes every
    // handle and fd; `done` (of the first call) runs after the last one.
    void close(std::function<void()> done = {});
    [[nodiscard]] bool closing() const { return closing_; }

    void set_splice_call(SpliceCall call) { splice_ = call; }

private:
    enum Side : std::uint8_t { client, to_child, from_child };
    enum class Wait : std::uint8_t { source, destination };
    enum class Step : std::uint8_t { moved, blocked, ended };

    struct Direction {
        Way way;
        Side source;
        Side destination;
        bool done = false;
        bool copy = false;     // the kernel would not splice: read/write through `buffer`
        bool discard = false;  // the child closed its stdin: read the client and drop it
        bool eof = false;      // copy mode: the source ended; flush, then end
        Wait wait = Wait::source;
        int error = 0;
        std::uint64_t bytes = 0;
        std::unique_ptr<char[]> buffer;
        std::size_t head = 0;
        std::size_t tail = 0;
    };

    [[nodiscard]] const Direction& direction(Way way) const { return way == Way::in ? in_ : out_; }
    void on_event(Side side, int status, int events);
    void pump(Direction& d);
    Step splice_step(Direction& d);
    Step copy_step(Direction& d);
    Step discard_step(Direction& d);
    Step blocked(Direction& d);
    Step failed(Direction& d, int err, Side side);
    void end(Direction& d, int err);
    void client_failed(int err);
    void update_interest();
    void close_side(Side side);
    void handle_closed();
    void moved(Direction& d, std::size_t n);

    uv_loop_t* loop_ = nullptr;
    std::array<Fd, 3> fds_;
    std::array<uv::Poll, 3> polls_;
    Direction in_{Way::in, client, to_child};
    Direction out_{Way::out, from_child, client};
    std::uint64_t last_activity_ = 0;
    SpliceCall splice_ = nullptr;
    std::function<void()> on_finished_;
    std::function<void()> on_input_ended_;
    std::function<void()> on_closed_;
    bool client_failed_ = false;
    bool reported_ = false;
    bool closing_ = false;
    int open_handles_ = 3;
};

}  // namespace sb::io
