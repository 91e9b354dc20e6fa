// inetd.conf, as openbsd-inetd and GNU inetutils read it: one entry per
// line, fields separated by blanks, "#" lines are comments, a line starting
// with a blank continues the entry before it, and a line holding only
// "ADDR:" sets the listen address of the lines after it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "import/report.hpp"

namespace sb::import {

struct InetdEntry {
    Origin origin;
    std::vector<std::string> hosts;  // "*" or literals/names, from "ADDR:" (the entry's or the default)
    std::string service;             // a name, a port, "tcpmux/[+]NAME", "NAME/VERSION" (rpc), or a UNIX path
    std::string socket_type;         // stream, dgram, ...
    std::string protocol;            // tcp, udp6, unix, "tcp,sndbuf=64k", "rpc/tcp", ...
    std::string wait;                // wait, nowait, with ".MAX"
    std::string user;                // user, user:group, user.group
    std::string program;             // a path, or "internal"
    std::vector<std::string> args;   // from argv[0] on
};

// Lines too short to be an entry are reported and skipped.
std::vector<InetdEntry> parse_inetd(std::string_view text, const std::string& file, Report& report);

}  // namespace sb::import
