// SpliceBridge: moves a forwarded connection's bytes both ways between two
// connected stream sockets (the client and the upstream of a redirect).
//
// Each direction moves socket → pipe → socket with splice(2), so no byte is
// copied through user space. A direction takes a pipe from the PipePool
// when its source has bytes and gives it back, empty, when the source has
// none left, so an idle bridge holds no pipe. Where splice is refused
// (EINVAL: a socket type the kernel cannot splice) or no pipe can be had
// (fd limits, or `fd_gate` says no), the direction copies through a buffer
// of at most k_chunk bytes instead, held only while bytes are in flight.
//
// Backpressure: a direction reads its source only when its pipe (or
// buffer) is empty, and waits for its destination to be writable when that
// is full; memory stays bounded by kernel buffers. Half-close: EOF from
// one side becomes shutdown(SHUT_WR) on the other while the opposite
// direction continues; when both have ended, on_finished(0) runs once. A
// failed socket (reset, EPIPE) ends both: on_finished(-errno).
//
// Owns both socket fds from start() on (even if start() fails), one Poll
// per socket, and the pipes its directions hold. The owner keeps it alive
// until the callback of close() has run. Needs SIGPIPE ignored (sends use
// MSG_NOSIGNAL; splice into a socket does not take flags). Loop thread only.
#pragma once

#include <uv.h>

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "io/pipe_pool.hpp"
#include "switchboard/fd.hpp"
#include "uv/poll.hpp"

namespace sb::io {

class SpliceBridge {
public:
    enum End : std::uint8_t { a, b };  // a: the client; b: the upstream

    static constexpr std::size_t k_chunk = 16 * 1024;  // the copy fallback's buffer
    static constexpr int k_calls_per_wakeup = 16;      // fairness between connections

    // splice(from, NULL, to, NULL, length, flags); a test seam.
    using SpliceCall = ssize_t (*)(int from, int to, std::size_t length, unsigned flags);
    // Asked before a direction takes a pipe (+2 fds) and told when it gives
    // one back (-2); returning false makes the direction copy instead.
    using FdGate = std::function<bool(int delta)>;

    struct Setup {
        PipePool* pool = nullptr;  // null: always copy
        FdGate fd_gate;
        std::string prefix_to_a;  // written to `a` before anything from `b` (a banner)
        std::string prefix_to_b;  // written to `b` before anything from `a` (a PROXY header)
        SpliceCall splice = nullptr;
    };

    SpliceBridge() = default;
    SpliceBridge(const SpliceBridge&) = delete;
    SpliceBridge& operator=(const SpliceBridge&) = delete;
    ~SpliceBridge() = default;

    // Returns 0 or a libuv error; either way the bridge owns the fds and
    // must be closed.
    [[nodiscard]] int start(uv_loop_t* loop, Fd end_a, Fd end_b, Setup setup, std::function<void(int err)> on_finished);

    [[nodiscard]] std::uint64_t bytes_from(End source) const { return dirs_[source].bytes; }
    [[nodiscard]] std::uint64_t last_activity() const { return last_activity_; }
    // Pipes held now (0, 1 or 2) and bytes of user-space buffer held now.
    [[nodiscard]] int pipes_held() const;
    [[nodiscard]] std::size_t buffered() const;

    // Stops both directions without reporting on_finished, gives back what
    // can be reused, closes every handle and fd; `done` runs after the last.
    void close(std::function<void()> done = {});

private:
    enum class Wait : std::uint8_t { source, destination };
    enum class Step : std::uint8_t { moved, blocked, ended, failed };

    struct Direction {
        End source;
        End destination;
        std::string prefix;
        std::optional<SplicePipe> pipe;
        std::size_t in_pipe = 0;
        bool copy = false;             // moving through `buffer` until the source is idle
        bool splice_refused = false;   // the kernel will not splice these fds: copy for good
        bool source_ended = false;
        bool done = false;
        Wait wait = Wait::source;
        std::unique_ptr<char[]> buffer;
        std::size_t head = 0;
        std::size_t tail = 0;
        std::uint64_t bytes = 0;
    };

    void on_event(End end, int status, int events);
    void pump(Direction& d);
    Step step(Direction& d);
    Step prefix_step(Direction& d);
    Step splice_step(Direction& d);
    Step copy_step(Direction& d);
    Step end_source(Direction& d);
    Step blocked(Direction& d, Wait wait);
    Step failed(int err);
    bool take_pipe(Direction& d);
    void return_pipe(Direction& d);
    void update_interest();
    void moved(Direction& d, std::size_t n);

    uv_loop_t* loop_ = nullptr;
    std::array<Fd, 2> fds_;
    std::array<uv::Poll, 2> polls_;
    std::array<Direction, 2> dirs_{Direction{a, b}, Direction{b, a}};  // indexed by source
    PipePool* pool_ = nullptr;
    FdGate fd_gate_;
    SpliceCall splice_ = nullptr;
    std::function<void(int)> on_finished_;
    std::function<void()> on_closed_;
    std::uint64_t last_activity_ = 0;
    int error_ = 0;
    bool reported_ = false;
    bool closing_ = false;
    int open_handles_ = 2;
};

}  // namespace sb::io
