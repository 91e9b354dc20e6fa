// xinetd.conf(5): "defaults" and "service NAME" sections in braces, one
// attribute per line ("name = v1 v2", "+=", "-="), "#" comment lines, and
// "include FILE" / "includedir DIR" between sections, followed here so the
// result is every section of every file in the order xinetd reads them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "import/import.hpp"
#include "import/report.hpp"

namespace sb::import {

enum class AssignOp : std::uint8_t { set, add, remove };

struct XinetdAttribute {
    Origin origin;
    std::string name;
    AssignOp op = AssignOp::set;
    std::vector<std::string> values;
};

struct XinetdSection {
    Origin origin;
    bool defaults = false;
    std::string name;  // the service name; empty for defaults
    std::vector<XinetdAttribute> attributes;
};

// Malformed lines are reported and skipped; an unterminated section is
// reported and dropped. Includes are read from the file system when
// options.follow_includes is set (and reported as skipped otherwise).
std::vector<XinetdSection> parse_xinetd(std::string_view text, const std::string& file, const Options& options,
                                        Report& report);

}  // namespace sb::import
