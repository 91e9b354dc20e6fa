// WaitService (see wait_service.hpp).
#include "services/wait_service.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log/log.hpp"
#include "net/accept_queue.hpp"
#include "process/environment.hpp"

namespace sb::services {

WaitService::WaitService(uv_loop_t* loop, process::Spawner& spawner, Events events)
    : loop_(loop), spawner_(spawner), events_(std::move(events)) {}

int WaitService::init() {
    int rc = timer_.init(loop_);
    if (rc != 0) return rc;
    timer_.on_fire([this] {
        if (closing_) {
            terminate();  // the retire deadline
            return;
        }
        backing_off_ = false;
        events_.release();
    });
    return 0;
}

pid_t WaitService::pid() const { return child_ ? child_->pid() : 0; }

void WaitService::trigger(int socket, std::shared_ptr<const config::Service> service) {
    if (closing_ || child_ || backing_off_) return;
    // The socket is the child's, or the backoff's, until release(): a
    // level-triggered watch on it would only fire again and again.
    events_.hold();
    running_ = std::move(service);
    std::string error;
    if (start_child(socket, error) < 0) {
        events_.spawn_failed(error);
        ++failures_;
        back_off("spawn failed");
        return;
    }
    started_ = std::chrono::steady_clock::now();
    events_.spawned(child_->pid());
}

int WaitService::start_child(int socket, std::string& error) {
    // Above 0-2 so that it can never be mistaken for a stdio fd.
    socket_.reset(::fcntl(socket, F_DUPFD_CLOEXEC, 3));
    if (!socket_) {
        int err = errno;
        error = std::string("dup listening socket: ") + std::strerror(err);
        return -err;
    }
    const config::Exec& exec = *running_->exec();
    process::SpawnRequest request;
    request.argv = exec.argv;
    request.attributes = &exec;
    Fd devnull;
    if (exec.fds == config::FdStyle::systemd) {
        request.env = process::build_environment(exec, nullptr, running_->name);
        request.set_listen_pid = true;
        devnull.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
        request.fds = {{devnull.get(), 0}, {devnull.get(), 1}, {socket_.get(), 3}};
    } else {
        request.env = process::build_environment(exec, nullptr);
        request.fds = {{socket_.get(), 0}, {socket_.get(), 1}};
    }
    int type = 0;
    socklen_t type_length = sizeof type;
    if (::getsockopt(socket_.get(), SOL_SOCKET, SO_TYPE, &type, &type_length) == 0 && type == SOCK_DGRAM) {
        woke_by_ = peek_datagram();
    } else if (net::accept_queue_length(socket_.get()) == 0u) {
        queue_at_start_ = std::set<std::string>{};  // nothing waits, so nothing can be left waiting
    } else {
        queue_at_start_ = net::waiting_peers(socket_.get());
    }
    // The child's socket is blocking, as inetd hands it. The flag lives in
    // the file description the child shares, so it is restored (our accept
    // must not block) only when the child is gone.
    set_blocking(true);
    child_ = std::make_unique<ChildRun>();
    int rc = child_->start(loop_, spawner_, request, running_->name,
                           [this](const process::ExitStatus& s) { on_child_done(s); }, error);
    devnull.reset();
    if (rc < 0) {
        release_socket();
        retire_child();
    }
    return rc;
}

void WaitService::set_blocking(bool blocking) {
    int flags = ::fcntl(socket_.get(), F_GETFL);
    if (flags >= 0) (void)::fcntl(socket_.get(), F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

void WaitService::release_socket() {
    woke_by_.reset();
    queue_at_start_.reset();
    if (!socket_) return;
    set_blocking(false);
    socket_.reset();
}

std::optional<WaitService::DatagramHead> WaitService::peek_datagram() const {
    DatagramHead head;
    head.from_length = sizeof head.from;
    // MSG_TRUNC: the datagram's whole length, though only the first bytes are copied.
    ssize_t n = ::recvfrom(socket_.get(), head.bytes.data(), head.bytes.size(), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC,
                           reinterpret_cast<sockaddr*>(&head.from), &head.from_length);
    if (n < 0) return std::nullopt;
    head.length = n;
    return head;
}

void WaitService::on_child_done(const process::ExitStatus& status) {
    bool quick = std::chrono::steady_clock::now() - started_ < k_quick_exit;
    bool failed = status.kind != process::ExitStatus::Kind::exited || status.code != 0;
    // A child that ends at once, even successfully, without taking the work
    // that woke it would be woken by it again at once: over UDP the very
    // datagram is still at the head of the queue; over TCP every connection
    // that was waiting when it started still waits (newcomers do not count).
    bool datagram_left = woke_by_ && peek_datagram() == woke_by_;
    bool queue_left = false;
    // An empty TCP queue needs no listing (a healthy child took it all).
    if (quick && !failed && queue_at_start_ && !queue_at_start_->empty() &&
        net::accept_queue_length(socket_.get()) != 0u) {
        auto now_waiting = net::waiting_peers(socket_.get());
        queue_left = now_waiting && std::includes(now_waiting->begin(), now_waiting->end(), queue_at_start_->begin(),
                                                  queue_at_start_->end());
    }
    bool left_work = quick && !failed && (datagram_left || queue_left);
    release_socket();
    pid_t pid = child_->pid();
    retire_child();
    events_.exited(pid, status);
    if (closing_) {
        close_timer();
        return;
    }
    failures_ = quick && (failed || left_work) ? failures_ + 1 : 0;
    if (failures_ == 0) {
        events_.release();
        return;
    }
    back_off(failed ? "failed" : datagram_left ? "datagram left unread" : "connections left waiting");
}

void WaitService::back_off(std::string_view reason) {
    auto delay = k_first_backoff * (1u << std::min(failures_ - 1, 16u));
    if (delay > k_max_backoff) delay = k_max_backoff;
    backing_off_ = true;
    log::warning("backoff", {{"service", running_ ? running_->name : std::string()}, {"failures", failures_},
                             {"delay", static_cast<double>(delay.count()) / 1000.0}, {"reason", reason}});
    // The loop's clock may be stale (a spawn just ran): count from now.
    uv_update_time(loop_);
    timer_.start(delay);
}

void WaitService::retire_child() {
    ChildRun* dead = child_.release();
    ++closing_children_;
    dead->close([this, dead] {
        delete dead;
        --closing_children_;
        maybe_free();
    });
}

void WaitService::close(std::chrono::milliseconds grace, std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    on_closed_ = std::move(done);
    backing_off_ = false;
    timer_.stop();  // a backoff ends with the service
    if (!child_) {
        close_timer();  // may free *this
        return;
    }
    if (grace.count() <= 0) {
        terminate();
    } else if (grace != k_no_deadline) {
        uv_update_time(loop_);
        timer_.start(grace);
    }
}

void WaitService::terminate() {
    if (closing_ && child_ && running_) child_->terminate(running_->exec()->grace);
}

void WaitService::close_timer() {
    timer_.close([this] {
        timer_closed_ = true;
        maybe_free();
    });
}

void WaitService::maybe_free() {
    if (!closing_ || !timer_closed_ || child_ || closing_children_ > 0) return;
    auto cb = std::move(on_closed_);
    delete this;
    if (cb) cb();
}

}  // namespace sb::services
