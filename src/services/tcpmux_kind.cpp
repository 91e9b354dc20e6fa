// The tcpmux kind: `"builtin": "tcpmux"`. Each connection is a
// TcpmuxSession (tcpmux.hpp) that reads a service name and hands the client
// to the server, which starts the named service's own kind on it.
#include <memory>

#include "services/kind.hpp"
#include "services/tcpmux.hpp"

namespace sb::services {
namespace {

class TcpmuxKind final : public ServiceKind {
public:
    [[nodiscard]] KindDescription describe() const override { return {"builtin", "tcpmux", "builtin tcpmux"}; }

    [[nodiscard]] std::unique_ptr<Session> start_session(Arrival a) const override {
        return std::make_unique<TcpmuxSession>(a.loop, *a.observer, std::move(a.fd), *a.tcpmux);
    }
};

}  // namespace

std::shared_ptr<const ServiceKind> make_tcpmux_kind(const std::shared_ptr<const config::Service>& definition) {
    const auto* builtin = definition->builtin();
    if (builtin == nullptr || *builtin != config::Builtin::tcpmux) return nullptr;
    return std::make_shared<TcpmuxKind>();
}

}  // namespace sb::services
