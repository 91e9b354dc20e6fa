// WaitService (see wait_service.hpp).
#include "services/wait_service.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "log/log.hpp"
#include "process/environment.hpp"

namespace sb::services {

WaitService::WaitService(uv_loop_t* loop, process::Spawner& spawner, Events events)
    : loop_(loop), spawner_(spawner), events_(std::move(events)) {}

int WaitService::init() {
    int rc = backoff_.init(loop_);
    if (rc != 0) return rc;
    backoff_.on_fire([this] {
        backing_off_ = false;
        if (!closing_) events_.release();
    });
    return 0;
}

pid_t WaitService::pid() const { return child_ ? child_->pid() : 0; }

void WaitService::trigger(int socket, std::shared_ptr<const config::Service> service) {
    if (closing_ || child_ || backing_off_) return;
    const config::Exec& exec = *service->exec();
    process::SpawnRequest request;
    request.argv = exec.argv;
    request.attributes = &exec;
    int devnull = -1;
    if (exec.fds == config::FdStyle::systemd) {
        request.env = process::build_environment(exec, nullptr, service->name);
        request.set_listen_pid = true;
        devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        request.fds = {{devnull, 0}, {devnull, 1}, {socket, 3}};
    } else {
        request.env = process::build_environment(exec, nullptr);
        request.fds = {{socket, 0}, {socket, 1}};
    }
    // The child's socket is blocking, as inetd hands it. The flag lives in
    // the file description the child shares, so it is restored (our accept
    // must not block) only when the child is gone.
    socket_ = socket;
    set_blocking(true);
    running_ = service;
    child_ = std::make_unique<ChildRun>();
    std::string error;
    int rc = child_->start(loop_, spawner_, request, service->name,
                           [this](const process::ExitStatus& s) { on_child_done(s); }, error);
    if (devnull >= 0) ::close(devnull);
    if (rc < 0) {
        events_.spawn_failed(error);
        retire_child();
        ++failures_;
        on_child_done(process::ExitStatus{});
        return;
    }
    started_ = std::chrono::steady_clock::now();
    events_.hold();
    events_.spawned(child_->pid());
}

void WaitService::set_blocking(bool blocking) {
    int flags = ::fcntl(socket_, F_GETFL);
    if (flags >= 0) (void)::fcntl(socket_, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

void WaitService::on_child_done(const process::ExitStatus& status) {
    set_blocking(false);
    if (child_) {
        pid_t pid = child_->pid();
        events_.exited(pid, status);
        retire_child();
        bool quick = std::chrono::steady_clock::now() - started_ < k_quick_exit;
        bool failed = status.kind != process::ExitStatus::Kind::exited || status.code != 0;
        failures_ = (quick && failed) ? failures_ + 1 : 0;
    }
    if (closing_) return;
    if (failures_ == 0) {
        events_.release();
        return;
    }
    auto delay = k_first_backoff * (1u << std::min(failures_ - 1, 16u));
    if (delay > k_max_backoff) delay = k_max_backoff;
    backing_off_ = true;
    log::warning("backoff", {{"service", running_ ? running_->name : std::string()}, {"failures", failures_},
                             {"delay", static_cast<double>(delay.count()) / 1000.0}});
    backoff_.start(delay);
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

void WaitService::close(std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    on_closed_ = std::move(done);
    if (child_ && running_) child_->terminate(running_->exec()->grace);
    backoff_.close([this] {
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
