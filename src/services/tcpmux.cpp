// A tcpmux session: the request line, then a hand-over (see tcpmux.hpp).
#include "services/tcpmux.hpp"

#include "net/tcpmux_request.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace sb::services {

TcpmuxSession::TcpmuxSession(uv_loop_t* loop, SessionObserver& observer, Fd fd, TcpmuxDirectory& directory)
    : Session(loop, observer), fd_(std::move(fd)), directory_(&directory) {}

void TcpmuxSession::start() {
    if (timer_.init(loop_) != 0 || poll_.init(loop_, fd_.get()) != 0) {
        finish("error");
        return;
    }
    timer_.on_fire([this] { answer_and_finish("-Timed out waiting for a service name\r\n", "timeout"); });
    timer_.start(k_tcpmux_timeout);
    poll_.on_event([this](int status, int) {
        if (status < 0) {
            finish("error");
            return;
        }
        on_readable();
    });
    if (poll_.watch(UV_READABLE) != 0) finish("error");
}

void TcpmuxSession::on_readable() {
    // Peek: nothing past the line end may leave the socket.
    char buffer[k_tcpmux_max_line];
    ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, MSG_PEEK);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        finish("reset");
        return;
    }
    if (n == 0) {
        finish("eof");
        return;
    }
    touch();
    auto request = net::parse_tcpmux_request(std::string_view(buffer, static_cast<std::size_t>(n)), sizeof buffer);
    using State = net::TcpmuxRequest::State;
    if (request.state == State::more) return;  // the rest of the line is on its way
    if (request.state == State::too_long) {
        answer_and_finish("-Request too long\r\n", "refused");
        return;
    }
    std::string name(request.name);
    // Consume exactly the line: it is in the buffer, so this reads it whole.
    ssize_t taken = ::recv(fd_.get(), buffer, request.line_length, 0);
    if (taken != static_cast<ssize_t>(request.line_length)) {
        finish("error");
        return;
    }
    bytes_in_ += request.line_length;
    if (request.state == State::empty) {
        answer_and_finish("-No service name\r\n", "refused");
        return;
    }
    if (request.state == State::help) {
        std::string list;
        for (const std::string& offered : directory_->tcpmux_names()) list += offered + "\r\n";
        answer_and_finish(list, "help");
        return;
    }
    // The new session polls this fd: ours must be gone first (closing a
    // uv_poll_t drops the fd from the loop's epoll set at once).
    close_handles();
    std::string refusal = directory_->tcpmux_hand_over(name, fd_);
    if (refusal.empty()) {
        finish("tcpmux");
        return;
    }
    answer_and_finish("-" + refusal + "\r\n", "refused");
}

void TcpmuxSession::answer_and_finish(std::string_view text, std::string_view reason) {
    // Short answers: what the socket takes now, or nothing; never a wait.
    // Unread input first (a bounded amount): closing a socket with unread
    // data resets it, and the client would lose the answer.
    if (fd_) {
        char sink[4096];
        for (int i = 0; i < 16 && ::recv(fd_.get(), sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
        }
    }
    if (fd_ && !text.empty()) {
        ssize_t n = ::send(fd_.get(), text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) bytes_out_ += static_cast<std::uint64_t>(n);
    }
    finish(reason);
}

void TcpmuxSession::stop(std::string_view reason) { finish(reason); }

void TcpmuxSession::finish(std::string_view reason) {
    if (finishing_) return;
    finishing_ = true;
    reason_ = reason;
    if (open_handles_ == 0) {
        fd_.reset();
        report(Outcome{.reason = reason_});
        return;
    }
    close_handles();
}

void TcpmuxSession::close_handles() {
    // A second close of a handle is a no-op: its first callback stands.
    poll_.close([this] { handle_closed(); });
    timer_.close([this] { handle_closed(); });
}

void TcpmuxSession::handle_closed() {
    if (--open_handles_ > 0 || !finishing_) return;
    fd_.reset();  // unless the hand-over took it
    report(Outcome{.reason = reason_});
}

}  // namespace sb::services
