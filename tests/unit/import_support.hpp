// What the import unit tests share: hermetic options (the test services
// file, a resolver that knows two names and never asks DNS) and a look at
// the result through the real configuration loader.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "import/import.hpp"
#include "switchboard/config/load.hpp"

namespace sb::test {

inline import::Options import_options() {
    import::Options options;
    options.services_file = std::string(SB_SOURCE_ROOT) + "/tests/import/services";
    options.resolve = [](const std::string& name) -> std::vector<std::string> {
        if (name == "localhost") return {"127.0.0.1", "::1"};
        if (name == "trusted.example") return {"192.0.2.10"};
        return {};
    };
    options.follow_includes = false;
    return options;
}

inline std::string warnings_text(const import::Result& r) {
    std::string out;
    for (const auto& w : r.warnings) out += w.to_string() + "\n";
    return out;
}

// The services of an import, after checking that the configuration loader
// accepts the whole document (programs and users are not looked up).
inline nlohmann::json loaded_services(const import::Result& r) {
    INFO(warnings_text(r));
    REQUIRE(r.error.empty());
    config::LoadOptions options;
    options.check_system = false;
    auto loaded = config::load_text(r.config.dump(), "/virtual/imported.json", options);
    std::string errors;
    for (const auto& e : loaded.errors) errors += e.to_string() + "\n";
    INFO(errors);
    CHECK(loaded.errors.empty());
    return r.config.at("services");
}

inline bool has_warning(const import::Result& r, const std::string& text) {
    return warnings_text(r).find(text) != std::string::npos;
}

}  // namespace sb::test
