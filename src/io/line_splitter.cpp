// LineSplitter: reading, splitting and the partial-line remainder.
#include "io/line_splitter.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sb::io {

int LineSplitter::start(uv_loop_t* loop, int fd, std::span<char> scratch, LineCallback on_line,
                        EndCallback on_end) {
    fd_.reset(fd);
    scratch_ = scratch;
    on_line_ = std::move(on_line);
    on_end_ = std::move(on_end);
    if (int rc = poll_.init(loop, fd); rc != 0) return rc;
    poll_.on_event([this](int status, int) {
        if (status < 0) (void)poll_.watch(0);  // libuv stopped it; the read below finds the error
        on_readable();
    });
    return poll_.watch(UV_READABLE);
}

void LineSplitter::on_readable() {
    for (int i = 0; i < k_reads_per_wakeup && !ended_ && !closing_; ++i) {
        ssize_t n = read(fd_.get(), scratch_.data(), scratch_.size());
        if (n > 0) {
            feed(std::string_view(scratch_.data(), static_cast<std::size_t>(n)));
            continue;
        }
        if (n == 0) return finish(0);
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        return finish(-errno);
    }
    if (!ended_ && !closing_) (void)poll_.watch(UV_READABLE);
}

void LineSplitter::feed(std::string_view bytes) {
    while (!bytes.empty() && !closing_) {
        std::size_t newline = bytes.find('\n');
        bool complete = newline != std::string_view::npos;
        std::string_view piece = bytes.substr(0, complete ? newline : bytes.size());
        bytes.remove_prefix(complete ? newline + 1 : bytes.size());

        if (discarding_) {
            discarding_ = !complete;
        } else if (complete && partial_.empty()) {
            emit(piece);  // the common case: no copy
        } else {
            // Keep at most two bytes past the limit: enough to know the line
            // is too long even if its "\r\n" is split across reads.
            std::size_t room = k_max_line + 2 - partial_.size();
            partial_.append(piece.substr(0, std::min(room, piece.size())));
            bool overlong = partial_.size() > k_max_line + 1 ||
                            (partial_.size() == k_max_line + 1 && partial_.back() != '\r');
            if (complete) {
                emit(partial_);
                std::string().swap(partial_);
            } else if (overlong) {
                if (on_line_) on_line_(std::string_view(partial_).substr(0, k_max_line), true);
                std::string().swap(partial_);
                discarding_ = true;
            }
        }
    }
}

void LineSplitter::emit(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool truncated = line.size() > k_max_line;
    if (truncated) line = line.substr(0, k_max_line);
    if (on_line_) on_line_(line, truncated);
}

void LineSplitter::flush() {
    if (!partial_.empty() && !discarding_) emit(partial_);
    std::string().swap(partial_);
    discarding_ = false;
}

void LineSplitter::finish(int error) {
    ended_ = true;
    (void)poll_.watch(0);
    flush();
    if (closing_) return;
    auto cb = std::move(on_end_);
    if (cb) cb(error);  // may close the splitter
}

void LineSplitter::close(std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    poll_.close([this, done = std::move(done)] {
        fd_.reset();
        if (done) done();  // may free *this
    });
}

}  // namespace sb::io
