// /etc/services, read once per import: service names (and aliases) to port
// numbers per protocol, so the configuration written holds numbers only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace sb::import {

class ServicesDb {
public:
    // An unreadable file gives an empty database; every name then fails
    // to resolve, with a warning naming it.
    static ServicesDb load(const std::string& path);
    static ServicesDb parse(std::string_view text);

    // `name` is a service name, an alias or a decimal port; `protocol` is
    // "tcp" or "udp". nullopt: unknown.
    [[nodiscard]] std::optional<std::uint16_t> port(std::string_view name, std::string_view protocol) const;

private:
    std::map<std::string, std::uint16_t, std::less<>> ports_;  // "name/proto" → port
};

// A decimal port 1..65535, nothing else.
std::optional<std::uint16_t> parse_port(std::string_view text);

}  // namespace sb::import
