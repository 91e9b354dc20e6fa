// ExecSession: one client connected to one child of an exec service.
//
// io "splice": the child's stdin and stdout are pipes, and a SplicePump
// moves bytes between them and the client socket. io "socket": the client
// socket itself becomes the child's fd 0 and 1 (accepted blocking, as
// inetd hands it) and the server keeps no copy; the session then only waits for the
// child. In both modes the child's stderr goes to the log (ChildRun).
//
// Owns the client fd (until the pump or the child has it), the pump and the
// child run. Ends when the client side is finished and the child has been
// reaped. Once the client has sent its last byte, a child that moves no
// byte either way for the service's grace gets SIGTERM, then SIGKILL one
// grace later; one still streaming output to a half-closed client is left
// alone, and once the client is gone entirely the grace runs regardless.
// Once the child has exited, what it left writing to its stdout (a
// background grandchild) is relayed for one more grace at most; then the
// session ends ("child_exited"). Holds the service definition it started
// with, so a reload never changes a running connection. Loop thread only.
#pragma once

#include <memory>
#include <string>

#include "io/splice_pump.hpp"
#include "process/environment.hpp"
#include "process/spawn.hpp"
#include "services/child_run.hpp"
#include "services/session.hpp"
#include "switchboard/fd.hpp"
#include "switchboard/config.hpp"
#include "uv/timer.hpp"

namespace sb::services {

class ExecSession final : public Session {
public:
    // `prelude` (the banner) is sent to the client before the child starts.
    ExecSession(uv_loop_t* loop, SessionObserver& observer, Fd fd, std::shared_ptr<const config::Service> service,
                process::ConnectionInfo connection, process::Spawner& spawner, std::string prelude);

    void start() override;
    void stop(std::string_view reason) override;

    [[nodiscard]] std::uint64_t bytes_in() const override;
    [[nodiscard]] std::uint64_t bytes_out() const override;
    [[nodiscard]] std::uint64_t last_activity() const override;
    [[nodiscard]] pid_t child_pid() const override { return child_.pid(); }

private:
    [[nodiscard]] const config::Exec& exec() const { return *service_->exec(); }
    bool send_prelude();
    int start_splice(process::SpawnRequest& request, std::string& error);
    int start_socket(process::SpawnRequest& request, std::string& error);
    void on_client_finished();
    void on_grace();
    void on_child_done(const process::ExitStatus& status);
    void maybe_finish();
    void finish();
    void part_closed();

    std::shared_ptr<const config::Service> service_;
    process::ConnectionInfo connection_;
    process::Spawner& spawner_;
    std::string prelude_;
    Fd fd_;  // the client, until the pump or the child has it
    io::SplicePump pump_;
    ChildRun child_;
    uv::Timer grace_;  // the client's input ended with the child running, or the child exited first: see on_grace()
    bool pump_started_ = false;
    bool client_done_ = false;
    bool child_done_ = false;
    bool finishing_ = false;
    int open_parts_ = 3;
    std::string_view reason_;
    Outcome outcome_;
};

}  // namespace sb::services
