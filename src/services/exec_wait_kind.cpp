// The exec-wait kind ("wait": true): the listening socket itself goes to
// one child at a time (WaitService); the server never accepts on it.
#include <memory>

#include "services/kind.hpp"
#include "services/wait_service.hpp"

namespace sb::services {
namespace {

class ExecWaitKind final : public ServiceKind {
public:
    explicit ExecWaitKind(std::shared_ptr<const config::Service> definition) : definition_(std::move(definition)) {}

    [[nodiscard]] KindDescription describe() const override {
        const auto& argv = definition_->exec()->argv;
        return {"exec", argv.empty() ? std::string() : argv.front(), "exec"};
    }
    [[nodiscard]] Intake intake() const override { return Intake::hand_off; }
    [[nodiscard]] bool spawns_children() const override { return true; }

    // Never called: the server accepts nothing for a hand-off kind.
    [[nodiscard]] std::unique_ptr<Session> start_session(Arrival) const override { return nullptr; }

    void wake(WaitService& waiter, int socket) const override { waiter.trigger(socket, definition_); }
    // Its pidfd, its stderr pipe, and the WaitService's duplicate of the socket.
    [[nodiscard]] std::uint32_t child_fds() const override { return 3; }

private:
    std::shared_ptr<const config::Service> definition_;
};

}  // namespace

std::shared_ptr<const ServiceKind> make_exec_wait_kind(const std::shared_ptr<const config::Service>& definition) {
    const auto* exec = definition->exec();
    if (exec == nullptr || !exec->wait) return nullptr;
    return std::make_shared<ExecWaitKind>(definition);
}

}  // namespace sb::services
