// ChildWatch: pidfd watching, reaping and termination.
#include "process/child.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sb::process {

std::string ExitStatus::describe() const {
    switch (kind) {
        case Kind::exited: return "exit " + std::to_string(code);
        case Kind::killed: {
            const char* name = sigabbrev_np(signal);
            std::string text = name != nullptr ? std::string("signal SIG") + name : "signal " + std::to_string(signal);
            if (core_dumped) text += " (core dumped)";
            return text;
        }
        case Kind::lost: break;
    }
    return "lost";
}

namespace {

// What waitid() said; a null `info` (waitid failed) is "lost".
ExitStatus status_of(const siginfo_t* info, std::chrono::steady_clock::time_point started) {
    ExitStatus status;
    if (info != nullptr && info->si_code == CLD_EXITED) {
        status.kind = ExitStatus::Kind::exited;
        status.code = info->si_status;
    } else if (info != nullptr) {
        status.kind = ExitStatus::Kind::killed;
        status.signal = info->si_status;
        status.core_dumped = info->si_code == CLD_DUMPED;
    }
    status.duration =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    return status;
}

}  // namespace

int ChildWatch::start(uv_loop_t* loop, const Spawned& child, ExitCallback on_exit) {
    loop_ = loop;
    pidfd_.reset(child.pidfd);
    pid_ = child.pid;
    session_leader_ = child.session_leader;
    started_ = child.started;
    on_exit_ = std::move(on_exit);
    if (int rc = poll_.init(loop, pidfd_.get()); rc != 0) return rc;
    poll_.on_event([this](int status, int) {
        if (status < 0) (void)poll_.watch(0);  // libuv stopped the handle: resynchronise
        on_readable();
        if (!reaped_ && !closing_) (void)poll_.watch(UV_READABLE);
    });
    return poll_.watch(UV_READABLE);
}

void ChildWatch::on_readable() {
    if (reaped_) return;
    siginfo_t info{};
    int rc = 0;
    do {
        rc = waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | WNOHANG);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0 && info.si_pid == 0) return;  // not exited yet

    ExitStatus status = status_of(rc == 0 ? &info : nullptr, started_);
    reaped_ = true;
    (void)poll_.watch(0);
    kill_timer_.stop();
    auto cb = std::move(on_exit_);
    if (cb) cb(status);  // may close this watch
}

ExitStatus ChildWatch::kill_and_reap() {
    if (!running()) return {};
    // Unreaped, its pid is still its own: kill() is a safe fallback, and a
    // signal that went nowhere would leave the wait below blocking.
    if (signal(SIGKILL) != 0) kill(pid_, SIGKILL);
    if (session_leader_) kill(-pid_, SIGKILL);
    // By pid, not by pidfd: libuv may have made the pidfd non-blocking, and
    // waitid() would then return EAGAIN instead of waiting.
    siginfo_t info{};
    int rc = 0;
    do {
        rc = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED);
    } while (rc < 0 && errno == EINTR);
    reaped_ = true;
    (void)poll_.watch(0);
    kill_timer_.stop();
    on_exit_ = nullptr;
    return status_of(rc == 0 ? &info : nullptr, started_);
}

int ChildWatch::signal(int sig) {
    if (!pidfd_ || reaped_) return -ESRCH;
    if (syscall(SYS_pidfd_send_signal, pidfd_.get(), sig, nullptr, 0) != 0) return -errno;
    return 0;
}

void ChildWatch::send_to_all(int sig) {
    (void)signal(sig);
    // While the leader is unreaped its pid cannot be reused, so the group
    // named by it is still the child's.
    if (session_leader_) kill(-pid_, sig);
}

void ChildWatch::terminate(std::chrono::milliseconds grace) {
    if (!running() || closing_) return;
    if (grace.count() <= 0) {
        kill_timer_.stop();
        send_to_all(SIGKILL);
        return;
    }
    if (kill_scheduled_) return;
    send_to_all(SIGTERM);
    // A stopped child would keep SIGTERM pending until the SIGKILL.
    send_to_all(SIGCONT);
    if (!kill_timer_.initialized()) {
        if (kill_timer_.init(loop_) != 0) {
            send_to_all(SIGKILL);  // no timer, no grace
            return;
        }
        kill_timer_.on_fire([this] {
            if (running()) send_to_all(SIGKILL);
        });
    }
    kill_scheduled_ = true;
    // The loop's clock may be stale (a long callback): count the grace from now.
    uv_update_time(loop_);
    kill_timer_.start(grace);
}

void ChildWatch::close(std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    on_closed_ = std::move(done);
    poll_.close([this] {
        pidfd_.reset();
        handle_closed();
    });
    kill_timer_.close([this] { handle_closed(); });
}

void ChildWatch::handle_closed() {
    if (--open_handles_ > 0) return;
    auto cb = std::move(on_closed_);
    if (cb) cb();  // may free *this
}

}  // namespace sb::process
