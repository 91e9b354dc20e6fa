// The built-in kind: echo, discard, chargen, daytime and time, served inline
// on the loop (BuiltinStream for streams, serve_datagrams for UDP).
#include <memory>

#include "config/keys.hpp"
#include "services/builtin_stream.hpp"
#include "services/kind.hpp"

namespace sb::services {
namespace {

class BuiltinKind final : public ServiceKind {
public:
    BuiltinKind(config::Builtin builtin, bool allow_reflection)
        : builtin_(builtin), allow_reflection_(allow_reflection) {}

    [[nodiscard]] KindDescription describe() const override {
        // The names are the configuration's own spelling of the key's values.
        std::string name(config::keys::builtins[static_cast<std::size_t>(builtin_)]);
        return {"builtin", name, "builtin " + name};
    }

    [[nodiscard]] std::unique_ptr<Session> start_session(Arrival a) const override {
        return std::make_unique<BuiltinStream>(a.loop, *a.observer, std::move(a.fd), builtin_, std::move(a.greeting));
    }

    [[nodiscard]] bool serves_datagrams() const override { return true; }
    [[nodiscard]] bool refuses_datagram_from(const net::SockAddr& peer) const override {
        return !allow_reflection_ && looks_like_reflection(peer);
    }
    void serve_datagrams(int fd, const AdmitDatagram& admit, DatagramStats& stats) const override {
        services::serve_datagrams(fd, builtin_, admit, stats);
    }

private:
    config::Builtin builtin_;
    bool allow_reflection_;
};

}  // namespace

std::shared_ptr<const ServiceKind> make_builtin_kind(const std::shared_ptr<const config::Service>& definition) {
    const auto* builtin = definition->builtin();
    if (builtin == nullptr || *builtin == config::Builtin::tcpmux) return nullptr;
    return std::make_shared<BuiltinKind>(*builtin, definition->admission.allow_reflection);
}

}  // namespace sb::services
