// SpliceBridge: moves a forwarded connection's bytes both ways between two
// connected stream sockets (the client and the upstream of a redirect).
//
// Each direction moves socket → pipe → socket with splice(2), so no byte is
// copied through user space. A direction takes a pipe from the PipePool
// when its source has bytes and gives it back, empty, when the source has
// none left, so an idle bridge holds no pipe. Where splice is refused
// (EINVAL: a socket type the kernel cannot splice) or no pipe can be had
// (fd limits, or the owner's fd budget says no), the direction copies
// through a buffer of at most k_chunk bytes instead, held only while bytes
// are in flight.
//
// Backpressure: a direction reads its source only when its pipe (or
// buffer) is empty, and waits for its destination to be writable when that
// is full; memory stays bounded by kernel buffers. Half-close: EOF from
// one side becomes shutdown(SHUT_WR) on the other while the opposite
// direction continues; when both have ended, the owner hears
// bridge_finished(0) once. A failed socket (reset, EPIPE) ends both:
// bridge_finished(-errno).
//
// Owns both socket fds from start() on (even if start() fails), one
// uv_poll_t per socket, and the pipes its directions hold. Reports to its
// Owner, which keeps it alive until bridge_closed(). Every established
// forwarded connection holds one bridge, so its members are kept small:
// raw poll handles (no callback objects), a prefix only while one is
// unsent, and 32-bit counts where the sizes are bounded. Needs SIGPIPE
// ignored (sends use MSG_NOSIGNAL; splice into a socket does not take
// flags). Loop thread only.
#pragma once

#include <uv.h>

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "io/pipe_pool.hpp"
#include "switchboard/fd.hpp"

namespace sb::io {

class SpliceBridge {
public:
    enum End : std::uint8_t { a, b };  // a: the client; b: the upstream

    static constexpr std::size_t k_chunk = 16 * 1024;  // the copy fallback's buffer
    static constexpr int k_calls_per_wakeup = 16;      // fairness between connections

    // splice(from, NULL, to, NULL, length, flags); a test seam.
    using SpliceCall = ssize_t (*)(int from, int to, std::size_t length, unsigned flags);
    // Who hears from the bridge (a forwarded connection's session).
    class Owner {
    public:
        // Asked before a direction takes a pipe (+2 fds) and told when it
        // gives one back (-2); returning false makes the direction copy.
        virtual bool bridge_fds_changed(int delta) = 0;
        // Both directions have ended (0) or a socket failed (-errno). Runs
        // once, not after close(); the owner may close the bridge in it.
        virtual void bridge_finished(int err) = 0;
        // After close(): every handle and fd is released; may free the bridge.
        virtual void bridge_closed() = 0;

    protected:
        ~Owner() = default;
    };

    struct Setup {
        PipePool* pool = nullptr;  // null: always copy
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
    [[nodiscard]] int start(uv_loop_t* loop, Fd end_a, Fd end_b, Setup setup, Owner& owner);

    [[nodiscard]] std::uint64_t bytes_from(End source) const { return dirs_[source].bytes; }
    [[nodiscard]] std::uint64_t last_activity() const { return last_activity_; }
    // Pipes held now (0, 1 or 2) and bytes of user-space buffer held now.
    [[nodiscard]] int pipes_held() const;
    [[nodiscard]] std::size_t buffered() const;

    // Stops both directions without reporting bridge_finished, gives back
    // what can be reused, closes every handle and fd, then calls
    // bridge_closed() (at once if start() was never called).
    void close();

private:
    enum class Wait : std::uint8_t { source, destination };
    enum class Step : std::uint8_t { moved, blocked, ended, failed };

    struct Direction {
        End source;
        End destination;
        bool copy = false;             // moving through `buffer` until the source is idle
        bool splice_refused = false;   // the kernel will not splice these fds: copy for good
        bool source_ended = false;
        bool done = false;
        Wait wait = Wait::source;
        std::uint32_t in_pipe = 0;     // bytes in `pipe` (at most PipePool::k_capacity)
        std::uint32_t head = 0;        // unsent bytes of `buffer`: [head, tail)
        std::uint32_t tail = 0;
        SplicePipe pipe;               // both fds closed when none is held
        std::unique_ptr<std::string> prefix;  // while a prefix is unsent
        std::unique_ptr<char[]> buffer;
        std::uint64_t bytes = 0;
    };

    static void on_poll(uv_poll_t* handle, int status, int events) noexcept;
    static void on_poll_closed(uv_handle_t* handle) noexcept;
    // Watches exactly `events` on `end` from now on; 0 stops watching.
    [[nodiscard]] int watch(End end, int events);
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

    std::array<uv_poll_t, 2> polls_{};  // by end; `data` points here
    std::array<Direction, 2> dirs_{Direction{.source = a, .destination = b},
                                   Direction{.source = b, .destination = a}};  // indexed by source
    std::array<Fd, 2> fds_;
    PipePool* pool_ = nullptr;
    Owner* owner_ = nullptr;
    SpliceCall splice_ = nullptr;
    std::uint64_t last_activity_ = 0;
    int error_ = 0;
    std::array<std::uint8_t, 2> watching_{};  // by end: the events its poll watches
    std::uint8_t open_handles_ = 0;          // polls initialised and not yet closed
    bool reported_ = false;
    bool closing_ = false;
};

}  // namespace sb::io
