// ChildRun (see child_run.hpp).
#include "services/child_run.hpp"

#include <unistd.h>

#include <cstring>

#include "io/pipe.hpp"
#include "log/child_stderr.hpp"
#include "log/log.hpp"
#include "services/scratch.hpp"

namespace sb::services {

int ChildRun::start(uv_loop_t* loop, process::Spawner& spawner, process::SpawnRequest& request,
                    const std::string& service, DoneCallback on_done, std::string& error) {
    service_ = service;
    on_done_ = std::move(on_done);
    if (int rc = linger_.init(loop); rc != 0) {
        error = std::string("timer: ") + uv_strerror(rc);
        return rc;
    }
    linger_.on_fire([this] {
        // The child is gone but something it started still holds stderr.
        stderr_.flush();
        stderr_ended_ = true;
        maybe_done();
    });
    io::ChildPipe err;
    if (int rc = io::open_child_pipe(io::PipeFlow::from_child, err); rc < 0) {
        error = "stderr pipe: " + std::string(std::strerror(-rc));
        return rc;
    }
    request.fds.push_back({err.child.get(), 2});
    process::Spawned spawned;
    int rc = spawner.spawn(request, spawned, error);
    request.fds.pop_back();
    err.child.reset();
    if (rc < 0) return rc;
    started_ = true;
    pid_ = spawned.pid;
    auto on_line = [this, loop](std::string_view line, bool truncated) {
        log::child_stderr_line(service_, static_cast<long>(pid_), line, truncated, uv_now(loop));
    };
    auto on_end = [this](int) {
        stderr_ended_ = true;
        maybe_done();
    };
    int stderr_rc = injected_stderr_failure_ ? UV_ENOMEM : 0;
    if (stderr_rc == 0) {
        stderr_rc = stderr_.start(loop, err.server.release(), scratch_buffer(), on_line, on_end);
    }  // else `err.server` closes here: a failed start() would own it; an unstarted splitter does not
    if (stderr_rc != 0) stderr_ended_ = true;
    auto on_exit = [this](const process::ExitStatus& status) {
        reaped_ = true;
        status_ = status;
        if (!stderr_ended_) linger_.start(k_stderr_linger);
        maybe_done();
    };
    int watch_rc = injected_watch_error_;
    injected_watch_error_ = 0;
    injected_stderr_failure_ = false;
    if (watch_rc == 0) {
        watch_rc = watch_.start(loop, spawned, on_exit);
    } else {
        (void)watch_.start(loop, spawned, nullptr);  // takes the pidfd; the failure is pretended
    }
    if (watch_rc != 0) {
        // Without a watch we cannot learn of its exit: end it and reap it
        // now, and report it from the loop (the caller is still in start()).
        status_ = watch_.kill_and_reap();
        reaped_ = true;
        linger_.start(stderr_ended_ ? std::chrono::milliseconds(0) : k_stderr_linger);
    }
    return 0;
}

void ChildRun::terminate(std::chrono::milliseconds grace) {
    if (running()) watch_.terminate(grace);
}

void ChildRun::maybe_done() {
    if (reported_ || !reaped_ || !stderr_ended_ || closing_) return;
    reported_ = true;
    linger_.stop();
    if (on_done_) on_done_(status_);
}

void ChildRun::close(std::function<void()> done) {
    if (closing_) return;
    closing_ = true;
    on_closed_ = std::move(done);
    watch_.close([this] { handle_closed(); });
    stderr_.close([this] { handle_closed(); });
    linger_.close([this] { handle_closed(); });
}

void ChildRun::handle_closed() {
    if (--open_parts_ > 0) return;
    auto cb = std::move(on_closed_);
    if (cb) cb();
}

}  // namespace sb::services
