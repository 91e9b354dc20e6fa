// One control client: line framing and reply writing (see control_connection.hpp).
#include "control/control_connection.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "control/protocol.hpp"

namespace sb::control {
namespace {

// Reads per wakeup, so one chatty client cannot hold the loop.
constexpr int k_reads_per_wakeup = 4;
constexpr std::size_t k_read_chunk = 16 * 1024;
// After an oversized request: how much more input is swallowed before closing anyway.
constexpr std::size_t k_max_discard = 1024 * 1024;

}  // namespace

ControlConnection* ControlConnection::open(uv_loop_t* loop, Fd fd, ControlConnectionOwner& owner, ControlPeer peer) {
    auto* c = new ControlConnection(loop, std::move(fd), owner, std::move(peer));
    if (c->poll_.init(loop, c->fd_.get()) != 0) {
        delete c;  // closes the fd
        return nullptr;
    }
    c->poll_.on_event([c](int status, int events) { c->on_event(status, events); });
    if (c->poll_.watch(UV_READABLE) != 0) {
        c->closed_ = true;
        c->poll_.close([c] {
            c->fd_.reset();
            delete c;
        });
        return nullptr;
    }
    return c;
}

ControlConnection::ControlConnection(uv_loop_t* loop, Fd fd, ControlConnectionOwner& owner, ControlPeer peer)
    : loop_(loop), fd_(std::move(fd)), owner_(owner), peer_(std::move(peer)), last_activity_(uv_now(loop)) {}

void ControlConnection::close(std::string owed_reply) {
    if (closed_) return;
    if (owes_reply_ && !owed_reply.empty()) {
        out_ = std::move(owed_reply);
        sent_ = 0;
    }
    owes_reply_ = false;
    lifetime_.reset();
    bool pending = output_pending();
    closed_ = true;
    if (pending) (void)flush();
    owner_.on_connection_closed(*this);
    poll_.close([this] {
        fd_.reset();
        delete this;
    });
}

void ControlConnection::hang_up(std::string last_words) {
    if (closed_) return;
    if (!output_pending()) {
        out_ = std::move(last_words);
        sent_ = 0;
    }
    close();
}

std::optional<std::uint64_t> ControlConnection::busy_since() const {
    if (owes_reply_) return std::nullopt;
    return busy_since_;
}

void ControlConnection::on_event(int status, int events) {
    if (closed_) return;
    if (status < 0) {
        close();
        return;
    }
    if ((events & UV_WRITABLE) != 0) {
        if (!flush()) return;
        if (!output_pending()) process();
        return;
    }
    if ((events & UV_READABLE) != 0) read_some();
}

void ControlConnection::read_some() {
    char buf[k_read_chunk];
    for (int i = 0; i < k_reads_per_wakeup && !eof_; ++i) {
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n > 0 && discarded_ != k_not_discarding) {
            discarded_ += static_cast<std::size_t>(n);
            if (discarded_ > k_max_discard) break;
            continue;
        }
        if (n > 0) {
            in_.append(buf, static_cast<std::size_t>(n));
            last_activity_ = uv_now(loop_);
            if (!busy_since_) busy_since_ = last_activity_;
            if (in_.size() > k_max_request) break;  // process() decides whether it is too long
            continue;
        }
        if (n == 0) {
            eof_ = true;
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        close();
        return;
    }
    if (discarded_ != k_not_discarding) {
        if (eof_ || discarded_ > k_max_discard) close();
        return;
    }
    process();
}

void ControlConnection::process() {
    while (!closed_ && !output_pending() && !close_after_ && !owes_reply_) {
        std::size_t newline = in_.find('\n');
        std::size_t length = newline == std::string::npos ? in_.size() : newline;
        if (length > k_max_request) {
            in_.clear();
            out_ = reply_error("request too large: the limit is " + std::to_string(k_max_request) +
                               " bytes per line; closing");
            sent_ = 0;
            close_after_ = true;
            if (!flush()) return;
            break;
        }
        if (newline == std::string::npos) {
            if (!eof_ || in_.empty()) break;
            // The client ended its last request with EOF rather than a newline.
            std::string line = std::move(in_);
            in_.clear();
            answer(line);
            continue;
        }
        std::string line = in_.substr(0, newline);
        in_.erase(0, newline + 1);
        answer(line);
    }
    if (closed_) return;
    if (replied_ && !owes_reply_ && !output_pending() && !close_after_) {
        // A reply is out: the next request's clock starts with what is
        // already here of it, or else with its first byte.
        replied_ = false;
        if (in_.empty()) {
            busy_since_.reset();
        } else if (busy_since_) {
            busy_since_ = uv_now(loop_);
        }
    }
    if (owes_reply_) {
        // One request at a time: read nothing (not even EOF, which would
        // close us) until the reply owed is out.
        if (poll_.watch(0) != 0) close();
    } else if (output_pending()) {
        if (poll_.watch(UV_WRITABLE) != 0) close();
    } else if (close_after_ && !eof_) {
        // Closing with unread input would reset a TCP client before it read
        // the error: say we are done, then swallow what is still coming.
        ::shutdown(fd_.get(), SHUT_WR);
        in_.clear();
        discarded_ = 0;
        if (poll_.watch(UV_READABLE) != 0) close();
    } else if (close_after_ || eof_) {
        close();
    } else if (poll_.watch(UV_READABLE) != 0) {
        close();
    }
}

void ControlConnection::answer(std::string_view line) {
    std::optional<Reply> reply = owner_.on_request(*this, line);
    if (closed_) return;
    if (!reply) {
        owes_reply_ = true;  // process() stops reading; respond() resumes
        return;
    }
    send_reply(std::move(*reply));
}

void ControlConnection::respond(Reply reply) {
    if (closed_ || !owes_reply_) return;
    owes_reply_ = false;
    last_activity_ = uv_now(loop_);
    busy_since_ = last_activity_;  // the reply's writing has its own deadline
    send_reply(std::move(reply));
    // Go on with what the client sent meanwhile, or wait for the reply to drain.
    process();
}

void ControlConnection::send_reply(Reply reply) {
    out_ = std::move(reply.text);
    sent_ = 0;
    if (reply.close) close_after_ = true;
    replied_ = true;
    (void)flush();
    // After the reply is on its way (or the client is gone): drain may
    // close every control connection, this one included.
    if (reply.then) reply.then();
}

bool ControlConnection::flush() {
    while (output_pending()) {
        ssize_t n = ::send(fd_.get(), out_.data() + sent_, out_.size() - sent_, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent_ += static_cast<std::size_t>(n);
            last_activity_ = uv_now(loop_);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
        // The client is gone: drop the reply.
        out_.clear();
        sent_ = 0;
        if (!closed_) close();
        return false;
    }
    out_.clear();
    sent_ = 0;
    return true;
}

}  // namespace sb::control
