// What the two import fuzz targets share: arbitrary bytes as an inetd or
// xinetd configuration. Importing must never crash, hang, leak or throw,
// and whatever it writes must be a JSON document of services. No host name
// is looked up and no include is followed, so the result depends on the
// input alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "import/import.hpp"

using ImportText = sb::import::Result (*)(std::string_view, const std::string&, const sb::import::Options&);

inline int fuzz_import(ImportText import_text, const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    sb::import::Options options;
    options.services_file = "/etc/services";
    options.follow_includes = false;
    options.resolve = [](const std::string& name) -> std::vector<std::string> {
        if (name == "localhost") return {"127.0.0.1", "::1"};
        return {};
    };
    auto result = import_text(text, "/fuzz/input.conf", options);
    if (!result.config.contains("services") || !result.config["services"].is_object()) std::abort();
    std::size_t total = sb::import::render(result.config).size();
    for (const auto& w : result.warnings) total += w.to_string(true).size();
    return total == static_cast<std::size_t>(-1) ? 1 : 0;
}
