// Reading xinetd configuration files into sections; what the attributes
// mean is xinetd_mapping's.
#include "import/xinetd_parser.hpp"

#include <set>
#include <sstream>

#include "import/files.hpp"
#include "net/quote.hpp"

namespace sb::import {

namespace {

constexpr int k_max_include_depth = 8;

std::vector<std::string> words(std::string_view text) {
    std::vector<std::string> out;
    std::istringstream in{std::string(text)};
    for (std::string w; in >> w;) out.push_back(w);
    return out;
}

// "name op values..." with op one of "=", "+=", "-=" (blanks around it optional).
bool parse_attribute(std::string_view line, XinetdAttribute& attribute) {
    std::size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    std::size_t name_end = eq;
    if (line[eq - 1] == '+' || line[eq - 1] == '-') {
        attribute.op = line[eq - 1] == '+' ? AssignOp::add : AssignOp::remove;
        --name_end;
    }
    auto name = words(line.substr(0, name_end));
    if (name.size() != 1) return false;
    attribute.name = name[0];
    attribute.values = words(line.substr(eq + 1));
    return true;
}

class Parser {
public:
    Parser(const Options& options, Report& report) : options_(options), report_(report) {}

    void parse(std::string_view text, const std::string& file, int depth) {
        enum class State : std::uint8_t { outside, want_brace, inside } state = State::outside;
        XinetdSection section;
        int number = 0;
        report_.reading(file);
        std::istringstream in{std::string(text)};
        for (std::string raw; std::getline(in, raw);) {
            ++number;
            auto w = words(raw);
            if (w.empty() || w[0].starts_with("#")) continue;
            const Origin at{file, number};
            if (state == State::inside) {
                if (w[0] == "}") {
                    sections_.push_back(std::move(section));
                    state = State::outside;
                    continue;
                }
                XinetdAttribute attribute;
                attribute.origin = at;
                if (parse_attribute(raw, attribute)) {
                    section.attributes.push_back(std::move(attribute));
                } else {
                    report_.unmapped(file, number, "not an attribute line: " + net::quote(trimmed(raw)) + "; ignored");
                }
                continue;
            }
            if (state == State::want_brace) {
                if (w[0] == "{") {
                    state = State::inside;
                    if (w.size() > 1) report_.unmapped(file, number, "text after \"{\" is ignored");
                    continue;
                }
                report_.unmapped(file, section.origin.line, "section without \"{\"; not imported");
                state = State::outside;
            }
            if ((w[0] == "service" && w.size() >= 2) || w[0] == "defaults") {
                section = XinetdSection{at, w[0] == "defaults", w[0] == "defaults" ? "" : w[1], {}};
                std::size_t next = section.defaults ? 1 : 2;
                state = State::want_brace;
                if (w.size() > next && w[next] == "{") state = State::inside;
            } else if ((w[0] == "include" || w[0] == "includedir") && w.size() == 2) {
                include(w[0] == "includedir", w[1], at, depth);
            } else {
                report_.unmapped(file, number, "unexpected line " + net::quote(trimmed(raw)) + "; ignored");
            }
        }
        if (state != State::outside) {
            report_.unmapped(file, section.origin.line, "section is not closed with \"}\"; not imported");
        }
    }

    std::vector<XinetdSection> take() { return std::move(sections_); }

private:
    static std::string trimmed(const std::string& raw) {
        auto w = words(raw);
        std::string out;
        for (const auto& s : w) out += (out.empty() ? "" : " ") + s;
        return out;
    }

    void include(bool directory, const std::string& path, const Origin& at, int depth) {
        if (!options_.follow_includes) {
            report_.unmapped(at.file, at.line, "include of " + path + " is not followed");
            return;
        }
        if (depth >= k_max_include_depth) {
            report_.unmapped(at.file, at.line, "includes nested deeper than " + std::to_string(k_max_include_depth) +
                                                   "; " + path + " is not read");
            return;
        }
        std::string error;
        std::vector<std::string> files{path};
        if (directory) {
            auto listed = includedir_files(path, error);
            if (!listed) {
                report_.unmapped(at.file, at.line, error);
                return;
            }
            files = std::move(*listed);
        }
        for (const std::string& f : files) {
            if (!reading_.insert(f).second) {
                report_.unmapped(at.file, at.line, f + " includes itself; not read again");
                continue;
            }
            if (auto text = read_text(f, error)) {
                parse(*text, f, depth + 1);
            } else {
                report_.unmapped(at.file, at.line, error);
            }
            reading_.erase(f);
        }
    }

    const Options& options_;
    Report& report_;
    std::vector<XinetdSection> sections_;
    std::set<std::string> reading_;
};

}  // namespace

std::vector<XinetdSection> parse_xinetd(std::string_view text, const std::string& file, const Options& options,
                                        Report& report) {
    Parser parser(options, report);
    parser.parse(text, file, 0);
    return parser.take();
}

}  // namespace sb::import
