// Fuzz target: arbitrary bytes as a configuration file. Loading must never
// crash, hang, leak or throw, whatever the input; errors are the expected
// outcome for almost every input and are rendered to exercise to_string().
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "switchboard/config/load.hpp"
#include "switchboard/net/cidr.hpp"
#include "switchboard/net/endpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);

    // A directory that does not exist: relative includes and banner files
    // find nothing, so the result depends on the input alone.
    sb::config::LoadOptions options;
    options.check_system = false;
    auto result = sb::config::load_text(text, "/nonexistent/switchboard-fuzz/switchboard.json", options);
    std::size_t total = 0;
    for (const auto& error : result.errors) total += error.to_string().size();
    if (result.config) {
        for (const auto& [name, service] : result.config->services) {
            for (const auto& listen : service.listen) total += listen.endpoint.to_string().size();
            for (const auto& cidr : service.admission.allow) total += cidr.to_string().size();
        }
    }

    // Short inputs double as single values for the small parsers.
    if (size <= 256) {
        std::string error;
        if (auto ep = sb::net::parse_endpoint(text, error, true)) {
            total += ep->to_string().size();
            if (auto addr = ep->literal_address()) total += addr->to_string().size();
        }
        if (auto cidr = sb::net::Cidr::parse(text, error)) total += cidr->to_string().size();
        (void)sb::config::parse_duration(text, error);
        (void)sb::config::parse_size(text, error);
    }
    return total == static_cast<std::size_t>(-1) ? 1 : 0;
}
