// Built-in services over streams (see builtin_stream.hpp).
#include "services/builtin_stream.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "services/builtin_protocols.hpp"
#include "services/scratch.hpp"

namespace sb::services {
namespace {

std::string_view reason_for(int err) {
    switch (err) {
        case ECONNRESET: return "reset";
        case EPIPE: return "reset";
        case ETIMEDOUT: return "timeout";
        default: return "error";
    }
}

}  // namespace

BuiltinStream::BuiltinStream(uv_loop_t* loop, SessionObserver& observer, Fd fd, config::Builtin kind,
                             std::string prelude)
    : Session(loop, observer), fd_(std::move(fd)), kind_(kind) {
    if (!prelude.empty()) pending_ = std::make_unique<std::string>(std::move(prelude));
}

void BuiltinStream::start() {
    if (int rc = poll_.init(loop_, fd_.get()); rc != 0) {
        finish("error");
        return;
    }
    poll_.on_event([this](int status, int events) { on_event(status, events); });
    std::time_t now = std::time(nullptr);
    if (kind_ == config::Builtin::daytime || kind_ == config::Builtin::time) {
        std::string reply;
        if (kind_ == config::Builtin::daytime) {
            reply = daytime_text(now);
        } else {
            auto b = time_bytes(now);
            reply.assign(reinterpret_cast<const char*>(b.data()), b.size());
        }
        if (!pending_) pending_ = std::make_unique<std::string>();
        *pending_ += reply;
        close_when_flushed_ = true;
    }
    // Try at once: most replies and banners fit the socket buffer.
    if (pending_ && !flush_pending()) return;
    update_watch();
}

void BuiltinStream::update_watch() {
    if (finishing_) return;
    int events = 0;
    if (pending_) {
        events = UV_WRITABLE;  // backpressure: no reads until the tail is out
    } else if (kind_ == config::Builtin::chargen) {
        events = UV_READABLE | UV_WRITABLE;
    } else {
        events = UV_READABLE;
    }
    if (poll_.watch(events) != 0) finish("error");
}

void BuiltinStream::on_event(int status, int events) {
    if (finishing_) return;
    if (status < 0) {
        // libuv reports POLLERR as a status; the socket knows the real cause.
        int err = 0;
        socklen_t len = sizeof err;
        (void)::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        finish(reason_for(err));
        return;
    }
    if ((events & UV_WRITABLE) != 0) {
        on_writable();
        if (finishing_) return;
    }
    if ((events & UV_READABLE) != 0) on_readable();
}

void BuiltinStream::on_readable() {
    auto buf = scratch_buffer();
    ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) finish(reason_for(errno));
        return;
    }
    if (n == 0) {
        finish("eof");
        return;
    }
    bytes_in_ += static_cast<std::uint64_t>(n);
    touch();
    if (kind_ != config::Builtin::echo) return;  // discard and chargen drop input
    ssize_t w = ::send(fd_.get(), buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN) {
            finish(reason_for(errno));
            return;
        }
        w = 0;
    }
    bytes_out_ += static_cast<std::uint64_t>(w);
    if (w < n) {
        pending_ = std::make_unique<std::string>(buf.data() + w, static_cast<std::size_t>(n - w));
        pending_sent_ = 0;
        update_watch();
    }
}

void BuiltinStream::on_writable() {
    if (pending_) {
        if (flush_pending()) update_watch();
        return;
    }
    if (kind_ == config::Builtin::chargen) (void)write_chargen();
}

bool BuiltinStream::flush_pending() {
    while (pending_sent_ < pending_->size()) {
        ssize_t w =
            ::send(fd_.get(), pending_->data() + pending_sent_, pending_->size() - pending_sent_, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) return true;
            if (errno == EINTR) continue;
            finish(reason_for(errno));
            return false;
        }
        pending_sent_ += static_cast<std::size_t>(w);
        bytes_out_ += static_cast<std::uint64_t>(w);
        touch();
    }
    pending_.reset();
    pending_sent_ = 0;
    if (close_when_flushed_) {
        finish("closed");
        return false;
    }
    return true;
}

bool BuiltinStream::write_chargen() {
    // Up to 64 KiB per wakeup, as iovecs over the one-period pattern.
    std::string_view pattern = chargen_pattern();
    constexpr int k_iovecs = 10;
    iovec iov[k_iovecs];
    std::size_t offset = chargen_offset_;
    for (auto& v : iov) {
        v.iov_base = const_cast<char*>(pattern.data() + offset);
        v.iov_len = pattern.size() - offset;
        offset = 0;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = k_iovecs;
    ssize_t w = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            finish(reason_for(errno));
            return false;
        }
        return true;
    }
    bytes_out_ += static_cast<std::uint64_t>(w);
    chargen_offset_ = static_cast<std::uint32_t>((chargen_offset_ + static_cast<std::size_t>(w)) % pattern.size());
    touch();
    return true;
}

void BuiltinStream::stop(std::string_view reason) { finish(reason); }

void BuiltinStream::finish(std::string_view reason) {
    if (finishing_) return;
    finishing_ = true;
    pending_.reset();
    poll_.close([this, reason] {
        fd_.reset();
        report(Outcome{.reason = reason});
    });
}

}  // namespace sb::services
