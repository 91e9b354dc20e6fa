// The exec kind: each accepted connection gets its own child (ExecSession),
// with the client pumped through pipes (io "splice") or handed over as the
// child's fd 0 and 1 (io "socket").
#include <memory>

#include "net/peer_credentials.hpp"
#include "net/socket.hpp"
#include "services/exec_session.hpp"
#include "services/kind.hpp"

namespace sb::services {
namespace {

process::ConnectionInfo connection_info(const Arrival& a) {
    process::ConnectionInfo info;
    switch (a.transport) {
        case net::Transport::tcp: info.proto = process::ConnectionInfo::Proto::tcp; break;
        case net::Transport::udp: info.proto = process::ConnectionInfo::Proto::udp; break;
        case net::Transport::unix_stream: info.proto = process::ConnectionInfo::Proto::unix_stream; break;
    }
    if (info.proto == process::ConnectionInfo::Proto::unix_stream) {
        if (auto cred = net::peer_credentials(a.fd.get())) {
            info.peer_uid = cred->uid;
            info.peer_gid = cred->gid;
            info.peer_pid = cred->pid;
        }
        return info;
    }
    net::SockAddr local = a.local.length != 0 ? a.local : net::local_address(a.fd.get());
    info.remote_ip = a.peer.host();
    info.remote_port = a.peer.port();
    info.local_ip = local.host();
    info.local_port = local.port();
    return info;
}

class ExecKind final : public ServiceKind {
public:
    explicit ExecKind(std::shared_ptr<const config::Service> definition) : definition_(std::move(definition)) {}

    [[nodiscard]] KindDescription describe() const override {
        const auto& argv = definition_->exec()->argv;
        return {"exec", argv.empty() ? std::string() : argv.front(), "exec"};
    }
    [[nodiscard]] Intake intake() const override {
        return splice() ? Intake::accept : Intake::accept_blocking;
    }
    // The client socket; with io "splice" also the child's stdin and stdout
    // pipes, its stderr pipe and its pidfd; with io "socket" the client goes
    // to the child and the session keeps the stderr pipe and the pidfd.
    [[nodiscard]] std::uint32_t connection_fds() const override { return splice() ? 5 : 2; }
    // The child's ends of its pipes, until the child has them.
    [[nodiscard]] std::uint32_t transient_fds() const override { return 3; }
    [[nodiscard]] bool spawns_children() const override { return true; }

    [[nodiscard]] std::unique_ptr<Session> start_session(Arrival a) const override {
        process::ConnectionInfo info = connection_info(a);
        return std::make_unique<ExecSession>(a.loop, *a.observer, std::move(a.fd), definition_, std::move(info), *a.spawner,
                                             std::move(a.greeting));
    }

private:
    [[nodiscard]] bool splice() const { return definition_->exec()->io == config::IoMode::splice; }

    std::shared_ptr<const config::Service> definition_;
};

}  // namespace

std::shared_ptr<const ServiceKind> make_exec_kind(const std::shared_ptr<const config::Service>& definition) {
    const auto* exec = definition->exec();
    if (exec == nullptr || exec->wait) return nullptr;
    return std::make_shared<ExecKind>(definition);
}

}  // namespace sb::services
