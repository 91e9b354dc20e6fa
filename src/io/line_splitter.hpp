// LineSplitter: reads a child's stderr pipe and hands out complete lines,
// which the owner logs tagged with service and pid.
//
// Reads go into a scratch buffer the owner lends (one per loop, shared by
// every splitter: it holds data only during a callback), so an idle
// splitter holds no buffer; only an incomplete last line is kept, at most
// k_max_line + 2 bytes. A line longer than k_max_line is reported cut at
// that length, flagged truncated, and the rest of it is dropped. "\r\n"
// endings lose the "\r"; empty lines are reported too. At EOF a partial
// last line is reported, then on_end(0); a read error reports on_end(-errno).
//
// Owns the fd (from start() on, even if start() fails) and a Poll on it;
// the fd is closed after the Poll. The owner keeps the splitter alive until
// the callback of close() has run. Loop thread only.
#pragma once

#include <uv.h>

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "switchboard/fd.hpp"
#include "uv/poll.hpp"

namespace sb::io {

class LineSplitter {
public:
    static constexpr std::size_t k_max_line = 4096;
    static constexpr int k_reads_per_wakeup = 8;

    using LineCallback = std::function<void(std::string_view line, bool truncated)>;
    using EndCallback = std::function<void(int error)>;

    LineSplitter() = default;
    LineSplitter(const LineSplitter&) = delete;
    LineSplitter& operator=(const LineSplitter&) = delete;
    LineSplitter(LineSplitter&&) = delete;
    LineSplitter& operator=(LineSplitter&&) = delete;
    ~LineSplitter() = default;

    // `fd`: the read end of a pipe (libuv makes it non-blocking). `scratch`
    // must outlive the splitter. Returns 0 or a libuv error.
    [[nodiscard]] int start(uv_loop_t* loop, int fd, std::span<char> scratch, LineCallback on_line,
                            EndCallback on_end);

    // Feeds bytes as if read from the fd; start() calls it for each read.
    // Public for tests.
    void feed(std::string_view bytes);
    // Reports a partial last line, as at EOF.
    void flush();

    [[nodiscard]] bool ended() const { return ended_; }
    [[nodiscard]] std::size_t buffered() const { return partial_.size(); }

    // Idempotent; `done` (of the first call) runs once the fd is closed.
    void close(std::function<void()> done = {});
    [[nodiscard]] bool closing() const { return closing_; }

private:
    void on_readable();
    void emit(std::string_view line);
    void finish(int error);

    uv::Poll poll_;
    Fd fd_;
    std::span<char> scratch_;
    std::string partial_;     // an incomplete line, ≤ k_max_line + 2 bytes
    bool discarding_ = false;  // dropping the rest of an overlong line
    bool ended_ = false;
    bool closing_ = false;
    LineCallback on_line_;
    EndCallback on_end_;
};

}  // namespace sb::io
