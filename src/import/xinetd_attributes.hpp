// The attributes of one xinetd service after its defaults are applied, and
// which attributes switchboard has no equivalent for.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "import/xinetd_parser.hpp"

namespace sb::import {

struct EffectiveAttribute {
    std::vector<std::string> values;
    Origin origin;               // where it was last set
    bool from_defaults = false;  // untouched since the defaults section
};

using Attributes = std::map<std::string, EffectiveAttribute>;

// `defaults` first (where "=" adds to list attributes, as xinetd does),
// then the service's own lines: "=" replaces, "+=" adds, "-=" removes.
Attributes effective_attributes(const std::vector<const XinetdSection*>& defaults, const XinetdSection& service);

// Why an attribute is left out (nullopt: switchboard maps it).
std::optional<std::string> unmapped_reason(const std::string& attribute);

}  // namespace sb::import
