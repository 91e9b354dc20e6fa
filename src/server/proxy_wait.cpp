// Reading a PROXY protocol header before admission (see proxy_wait.hpp).
#include "server/proxy_wait.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace sb::server {

int ProxyWait::start(uv_loop_t* loop, config::Duration timeout) {
    if (int rc = timer_.init(loop); rc != 0) return rc;
    timer_.on_fire([this, timeout] {
        finish(false, "no complete PROXY header within " + std::to_string(timeout.count()) + "ms");
    });
    timer_.start(timeout);
    if (int rc = poll_.init(loop, fd.get()); rc != 0) return rc;
    poll_.on_event([this](int status, int) {
        if (status < 0) {
            finish(false, std::string("socket error before the PROXY header: ") + uv_strerror(status));
            return;
        }
        on_readable();
    });
    return poll_.watch(UV_READABLE);
}

void ProxyWait::on_readable() {
    // A peek never takes bytes; what the parser claims is then consumed
    // for real, so nothing after the header is ever read here.
    std::array<char, 512> buf;
    for (int round = 0; round < 8 && !finished_; ++round) {
        ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), MSG_PEEK | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            finish(false, std::string("socket error before the PROXY header: ") + std::strerror(errno));
            return;
        }
        if (n == 0) {
            finish(false, "the connection closed before a complete PROXY header");
            return;
        }
        std::size_t take = parser.feed({buf.data(), static_cast<std::size_t>(n)});
        if (take > 0 && ::recv(fd.get(), buf.data(), take, MSG_DONTWAIT) != static_cast<ssize_t>(take)) {
            finish(false, "the PROXY header could not be consumed");
            return;
        }
        switch (parser.state()) {
            case net::ProxyHeaderParser::State::done: finish(true, {}); return;
            case net::ProxyHeaderParser::State::bad: finish(false, parser.error()); return;
            case net::ProxyHeaderParser::State::more:
                if (take < static_cast<std::size_t>(n)) return;  // cannot happen: all of it was header
                break;
        }
    }
}

void ProxyWait::finish(bool ok, const std::string& error) {
    if (finished_) return;
    finished_ = true;
    timer_.stop();
    (void)poll_.watch(0);
    if (ok && blocking) {
        // libuv made the socket non-blocking for its poll; the child that
        // gets it expects it as accept() gave it.
        int flags = ::fcntl(fd.get(), F_GETFL);
        if (flags >= 0) (void)::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    }
    // The poll no longer watches the fd (watch(0) above), so a session may
    // watch it with a poll of its own before ours has finished closing.
    auto done = std::move(on_done);
    if (done) done(*this, ok, error);
    close_handles();
}

void ProxyWait::abandon() {
    if (finished_) return;
    finished_ = true;
    on_done = nullptr;
    close_handles();
}

void ProxyWait::close_handles() {
    auto closed = [this] {
        if (--open_ == 0) {
            fd.reset();
            delete this;
        }
    };
    timer_.close(closed);
    poll_.close(closed);
}

}  // namespace sb::server
