// The redirect kind: each accepted connection is forwarded to the service's
// upstream (RedirectSession), optionally behind a PROXY protocol header.
#include <memory>

#include "services/kind.hpp"
#include "services/redirect_session.hpp"

namespace sb::services {
namespace {

class RedirectKind final : public ServiceKind {
public:
    explicit RedirectKind(std::shared_ptr<const config::Service> definition) : definition_(std::move(definition)) {}

    [[nodiscard]] KindDescription describe() const override {
        std::string target = definition_->redirect()->to.to_string();
        return {"redirect", target, "redirect " + target};
    }
    // The client and the upstream socket. The pipes a direction splices
    // through are leased while it holds them (on_fds_changed), so an idle
    // forwarded connection costs two fds.
    [[nodiscard]] std::uint32_t connection_fds() const override { return 2; }
    // Room for both directions' pipes, so an admitted connection can splice.
    [[nodiscard]] std::uint32_t transient_fds() const override { return 4; }

    [[nodiscard]] std::unique_ptr<Session> start_session(Arrival a) const override {
        return std::make_unique<RedirectSession>(a.loop, *a.observer, std::move(a.fd), a.peer, a.local, definition_,
                                                 a.pipes, std::move(a.greeting));
    }

private:
    std::shared_ptr<const config::Service> definition_;
};

}  // namespace

std::shared_ptr<const ServiceKind> make_redirect_kind(const std::shared_ptr<const config::Service>& definition) {
    if (definition->redirect() == nullptr) return nullptr;
    return std::make_shared<RedirectKind>(definition);
}

}  // namespace sb::services
