// Reading services(5): "name port/protocol [aliases...] [# comment]".
#include "import/services_db.hpp"

#include <fstream>
#include <sstream>

namespace sb::import {

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5) return std::nullopt;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

ServicesDb ServicesDb::load(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return parse(text.str());
}

ServicesDb ServicesDb::parse(std::string_view text) {
    ServicesDb db;
    std::istringstream in{std::string(text)};
    std::string line;
    while (std::getline(in, line)) {
        if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
        std::istringstream fields(line);
        std::string name, port_proto;
        if (!(fields >> name >> port_proto)) continue;
        auto slash = port_proto.find('/');
        if (slash == std::string::npos) continue;
        auto port = parse_port(std::string_view(port_proto).substr(0, slash));
        if (!port) continue;
        std::string proto = port_proto.substr(slash + 1);
        // The first entry for a name wins, as getservbyname's does.
        db.ports_.emplace(name + "/" + proto, *port);
        for (std::string alias; fields >> alias;) db.ports_.emplace(alias + "/" + proto, *port);
    }
    return db;
}

std::optional<std::uint16_t> ServicesDb::port(std::string_view name, std::string_view protocol) const {
    if (auto numeric = parse_port(name)) return numeric;
    auto it = ports_.find(std::string(name) + "/" + std::string(protocol));
    if (it == ports_.end()) return std::nullopt;
    return it->second;
}

}  // namespace sb::import
