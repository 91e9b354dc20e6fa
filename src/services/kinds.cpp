// The registry of service kinds: the one place that lists them. Each kind's
// factory returns its kind for a definition it takes, else null; the first
// that takes a definition wins.
#include "services/kind.hpp"

namespace sb::services {

using KindFactory = std::shared_ptr<const ServiceKind> (*)(const std::shared_ptr<const config::Service>&);

// One line per kind: the factory its file defines.
#define SB_SERVICE_KINDS(X) \
    X(make_tcpmux_kind)     \
    X(make_builtin_kind)    \
    X(make_exec_kind)       \
    X(make_exec_wait_kind)  \
    X(make_redirect_kind)

#define SB_DECLARE_KIND(factory) \
    std::shared_ptr<const ServiceKind> factory(const std::shared_ptr<const config::Service>& definition);
SB_SERVICE_KINDS(SB_DECLARE_KIND)
#undef SB_DECLARE_KIND

std::shared_ptr<const ServiceKind> make_kind(std::shared_ptr<const config::Service> definition) {
#define SB_TRY_KIND(factory) \
    if (auto kind = factory(definition)) return kind;
    SB_SERVICE_KINDS(SB_TRY_KIND)
#undef SB_TRY_KIND
    return nullptr;
}

}  // namespace sb::services
