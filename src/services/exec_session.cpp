// ExecSession (see exec_session.hpp).
#include "services/exec_session.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "io/pipe.hpp"

namespace sb::services {

ExecSession::ExecSession(uv_loop_t* loop, SessionObserver& observer, Fd fd,
                         std::shared_ptr<const config::Service> service, process::ConnectionInfo connection,
                         process::Spawner& spawner, std::string prelude)
    : Session(loop, observer),
      service_(std::move(service)),
      connection_(std::move(connection)),
      spawner_(spawner),
      prelude_(std::move(prelude)),
      fd_(std::move(fd)) {}

std::uint64_t ExecSession::bytes_in() const { return pump_started_ ? pump_.bytes_in() : bytes_in_; }
std::uint64_t ExecSession::bytes_out() const { return bytes_out_ + (pump_started_ ? pump_.bytes_out() : 0); }

std::uint64_t ExecSession::last_activity() const {
    // io "socket": the bytes never pass through us, so the connection can
    // never look idle; max_duration still applies.
    if (exec().io == config::IoMode::socket) return uv_now(loop_);
    return pump_started_ ? std::max(pump_.last_activity(), last_activity_) : last_activity_;
}

bool ExecSession::send_prelude() {
    if (prelude_.empty()) return true;
    // A banner fits an empty socket buffer; what the kernel does not take
    // now is dropped rather than blocking the loop.
    ssize_t n = ::send(fd_.get(), prelude_.data(), prelude_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) bytes_out_ += static_cast<std::uint64_t>(n);
    prelude_.clear();
    prelude_.shrink_to_fit();
    return n >= 0 || errno == EAGAIN;
}

void ExecSession::start() {
    if (int rc = grace_.init(loop_); rc != 0) {
        reason_ = "error";
        finish();
        return;
    }
    grace_.on_fire([this] { on_grace(); });
    if (!send_prelude()) {
        reason_ = "reset";
        finish();
        return;
    }
    process::SpawnRequest request;
    request.argv = exec().argv;
    request.env = process::build_environment(exec(), &connection_);
    request.attributes = &exec();
    std::string error;
    int rc = exec().io == config::IoMode::socket ? start_socket(request, error) : start_splice(request, error);
    if (rc < 0) {
        observer_->on_spawn_failed(*this, error);
        reason_ = "spawn failed";
        finish();
        return;
    }
    observer_->on_child_spawned(*this, child_.pid());
}

int ExecSession::start_splice(process::SpawnRequest& request, std::string& error) {
    io::ChildPipe in, out;
    int rc = io::open_child_pipe(io::PipeFlow::to_child, in, io::k_splice_pipe_capacity);
    if (rc == 0) rc = io::open_child_pipe(io::PipeFlow::from_child, out, io::k_splice_pipe_capacity);
    if (rc < 0) {
        error = std::string("pipe: ") + std::strerror(-rc);
        return rc;
    }
    request.fds = {{in.child.get(), 0}, {out.child.get(), 1}};
    rc = child_.start(loop_, spawner_, request, service_->name,
                      [this](const process::ExitStatus& s) { on_child_done(s); }, error);
    in.child.reset();
    out.child.reset();
    if (rc < 0) return rc;
    int client = fd_.release();  // the pump owns it now
    pump_started_ = true;
    pump_.set_on_input_ended([this] {
        if (child_.running()) grace_.start(exec().grace);
    });
    if (pump_.start(loop_, client, in.server.release(), out.server.release(), [this] { on_client_finished(); }) !=
        0) {
        reason_ = "error";
        on_client_finished();
    }
    return 0;
}

int ExecSession::start_socket(process::SpawnRequest& request, std::string& error) {
    // The child gets the socket as inetd hands it: blocking (the server
    // accepted it so, and never reads it itself).
    request.fds = {{fd_.get(), 0}, {fd_.get(), 1}};
    int rc = child_.start(loop_, spawner_, request, service_->name,
                          [this](const process::ExitStatus& s) { on_child_done(s); }, error);
    fd_.reset();  // the server keeps no copy, whether or not the child started
    client_done_ = true;
    return rc;
}

void ExecSession::on_client_finished() {
    if (client_done_) return;
    client_done_ = true;
    if (reason_.empty()) {
        // A peer that went away is a reset; any other failure of either
        // way (ENOMEM, EIO, ...) is an error and says which.
        int out = pump_.error(io::SplicePump::Way::out);
        int in = pump_.error(io::SplicePump::Way::in);
        int other = (in != 0 && in != -ECONNRESET && in != -EPIPE) ? in
                    : (out != 0 && out != -ECONNRESET && out != -EPIPE) ? out : 0;
        if (other != 0) {
            reason_ = "error";
            outcome_.error = -other;
        } else {
            reason_ = (out == -ECONNRESET || out == -EPIPE) ? "reset" : "closed";
        }
    }
    // The child's stdin is closed by now; give it the grace to finish.
    if (child_.running()) grace_.start(exec().grace);
    maybe_finish();
}

void ExecSession::on_grace() {
    if (!child_.running()) {
        // The child exited a grace ago and something it left behind (a
        // background grandchild) still holds its output open: what came in
        // that grace was relayed; now the session ends and frees its slots.
        if (child_done_ && !client_done_) {
            reason_ = "child_exited";
            client_done_ = true;
            maybe_finish();
        }
        return;
    }
    auto grace = static_cast<std::uint64_t>(exec().grace.count());
    std::uint64_t quiet = uv_now(loop_) - pump_.last_activity();
    // A half-closed client may still be reading a long answer: only silence
    // for a whole grace counts as the child having nothing more to do.
    if (!client_done_ && quiet < grace) {
        grace_.start(std::chrono::milliseconds(grace - quiet));
        return;
    }
    child_.terminate(exec().grace);
}

void ExecSession::on_child_done(const process::ExitStatus& status) {
    child_done_ = true;
    grace_.stop();
    // Its remaining output (and the client's last bytes in) may still flow,
    // for at most one grace: see on_grace().
    if (!client_done_) grace_.start(exec().grace);
    outcome_.pid = child_.pid();
    outcome_.exit_code = status.kind == process::ExitStatus::Kind::exited ? status.code : -1;
    outcome_.signal = status.kind == process::ExitStatus::Kind::killed ? status.signal : 0;
    observer_->on_child_exited(*this, outcome_.pid, outcome_.exit_code, outcome_.signal);
    maybe_finish();
}

void ExecSession::stop(std::string_view reason) {
    if (finishing_) return;
    if (reason_.empty()) reason_ = reason;
    // The client connection closes with the pump in finish(), once the
    // child is gone: SIGTERM now, SIGKILL after the grace.
    client_done_ = true;
    grace_.stop();
    if (child_.running()) child_.terminate(exec().grace);
    maybe_finish();
}

void ExecSession::maybe_finish() {
    if (!client_done_ || (child_.running() || (child_.pid() != 0 && !child_done_))) return;
    finish();
}

void ExecSession::finish() {
    if (finishing_) return;
    finishing_ = true;
    if (reason_.empty()) reason_ = "closed";
    fd_.reset();
    outcome_.reason = reason_;
    if (outcome_.pid == 0) outcome_.pid = child_.pid();
    pump_.close([this] { part_closed(); });
    child_.close([this] { part_closed(); });
    grace_.close([this] { part_closed(); });
}

void ExecSession::part_closed() {
    if (--open_parts_ > 0) return;
    report(outcome_);  // may free *this
}

}  // namespace sb::services
