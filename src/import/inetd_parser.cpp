// Reading inetd.conf into entries; what the fields mean is inetd_mapping's.
#include "import/inetd_parser.hpp"

#include <sstream>

#include "net/quote.hpp"

namespace sb::import {

namespace {

struct Logical {
    int line = 0;
    std::string text;
};

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Physical lines → entries: comments and blank lines dropped, continuation
// lines (starting with a blank) joined to the entry before them.
std::vector<Logical> logical_lines(std::string_view text) {
    std::vector<Logical> out;
    bool open = false;  // the last entry may still be continued
    int number = 0;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        ++number;
        std::size_t first = 0;
        while (first < line.size() && blank(line[first])) ++first;
        if (first == line.size() || line[first] == '#') {
            open = false;
        } else if (first > 0 && open) {
            out.back().text += ' ';
            out.back().text += line.substr(first);
        } else {
            out.push_back(Logical{number, std::string(line.substr(first))});
            open = true;
        }
        if (end == text.size()) break;
    }
    return out;
}

std::vector<std::string> split_fields(const std::string& text) {
    std::vector<std::string> fields;
    std::istringstream in(text);
    for (std::string f; in >> f;) fields.push_back(f);
    return fields;
}

std::vector<std::string> split_hosts(const std::string& list) {
    std::vector<std::string> hosts;
    std::string item;
    std::istringstream in(list);
    while (std::getline(in, item, ',')) {
        if (item.size() >= 2 && item.front() == '[' && item.back() == ']') item = item.substr(1, item.size() - 2);
        if (!item.empty()) hosts.push_back(item);
    }
    return hosts;
}

}  // namespace

std::vector<InetdEntry> parse_inetd(std::string_view text, const std::string& file, Report& report) {
    std::vector<InetdEntry> entries;
    std::vector<std::string> default_hosts{"*"};
    report.reading(file);
    for (const Logical& logical : logical_lines(text)) {
        std::vector<std::string> fields = split_fields(logical.text);
        if (fields.empty()) continue;
        if (fields.size() == 1 && fields[0].size() > 1 && fields[0].back() == ':') {
            default_hosts = split_hosts(fields[0].substr(0, fields[0].size() - 1));
            if (default_hosts.empty()) default_hosts = {"*"};
            continue;
        }
        if (fields.size() < 6) {
            report.unmapped(file, logical.line,
                            "an entry needs at least 6 fields (service, socket type, protocol, wait, user, "
                            "program), got " + std::to_string(fields.size()) + " in " + net::quote(logical.text) +
                                "; not imported");
            continue;
        }
        InetdEntry e;
        e.origin = Origin{file, logical.line};
        e.hosts = default_hosts;
        e.service = fields[0];
        e.socket_type = fields[1];
        e.protocol = fields[2];
        e.wait = fields[3];
        e.user = fields[4];
        e.program = fields[5];
        e.args.assign(fields.begin() + 6, fields.end());
        // "ADDR:service": the address is everything before the last ':' —
        // except for UNIX sockets, whose service field is a path.
        if (!e.protocol.starts_with("unix")) {
            if (auto colon = e.service.rfind(':'); colon != std::string::npos) {
                e.hosts = split_hosts(e.service.substr(0, colon));
                if (e.hosts.empty()) e.hosts = {"*"};
                e.service.erase(0, colon + 1);
            }
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

}  // namespace sb::import
