// Log lines: whatever bytes a value holds (a child's stderr, a peer's
// name), a JSON line is valid JSON in valid UTF-8, and a text line stays one
// line with no control character a terminal would act on.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "switchboard/config.hpp"
#include "log/log.hpp"

namespace {

using sb::config::LogFormat;
using sb::log::Level;

std::string json_line(std::string_view value) {
    return sb::log::format_line(LogFormat::json, Level::info, "stderr", {{"service", "x"}, {"line", value}});
}

std::string text_line(std::string_view value) {
    return sb::log::format_line(LogFormat::text, Level::info, "stderr", {{"service", "x"}, {"line", value}});
}

// Strict: nlohmann rejects invalid UTF-8 in its input.
nlohmann::json parse(const std::string& line) {
    REQUIRE(!line.empty());
    REQUIRE(line.back() == '\n');
    return nlohmann::json::parse(line.substr(0, line.size() - 1));
}

// The text after "line=" in a text line.
std::string text_value(const std::string& line) {
    auto at = line.find(" line=");
    REQUIRE(at != std::string::npos);
    return line.substr(at + 6, line.size() - at - 7);
}

bool has_byte_below_space_or_del(const std::string& s) {
    for (unsigned char c : s) {
        if (c < 0x20 || c == 0x7f) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("a JSON log line is valid JSON in valid UTF-8, whatever the value holds") {
    const std::string nul("a\0b", 3);
    struct Case {
        std::string input;
        std::string decoded;
    };
    const Case cases[] = {
        {"plain", "plain"},
        {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
        {"bad \xFF byte", "bad \xEF\xBF\xBD byte"},
        {"stray \x80\x80", "stray \xEF\xBF\xBD\xEF\xBF\xBD"},
        {"truncated \xE2\x82", "truncated \xEF\xBF\xBD\xEF\xBF\xBD"},
        {"overlong \xC0\xAF", "overlong \xEF\xBF\xBD\xEF\xBF\xBD"},
        {"surrogate \xED\xA0\x80", "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"too high \xF4\x90\x80\x80", "too high \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {nul, nul},
        {"esc \x1b[31mred", "esc \x1b[31mred"},
        {"line\nconn service=x peer=1.2.3.4", "line\nconn service=x peer=1.2.3.4"},
        {"cr\rover", "cr\rover"},
        {"c1 \xC2\x9B" "2J", "c1 \xC2\x9B" "2J"},
        {"quote \" backslash \\", "quote \" backslash \\"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.input);
        std::string line = json_line(c.input);
        CAPTURE(line);
        CHECK(line.find('\n') == line.size() - 1);
        CHECK_FALSE(has_byte_below_space_or_del(line.substr(0, line.size() - 1)));
        nlohmann::json j = parse(line);
        CHECK(j["event"] == "stderr");
        CHECK(j["line"].get<std::string>() == c.decoded);
    }
    CHECK(json_line("esc \x1b").find("\\u001b") != std::string::npos);
    CHECK(json_line(nul).find("\\u0000") != std::string::npos);
    CHECK(json_line("\xC2\x9B").find("\\u009b") != std::string::npos);
}

TEST_CASE("a text log line quotes control characters and invalid UTF-8, so a value cannot forge a line") {
    const std::string nul("a\0b", 3);
    CHECK(text_value(text_line("plain")) == "plain");
    CHECK(text_value(text_line("caf\xC3\xA9")) == "caf\xC3\xA9");
    CHECK(text_value(text_line("two words")) == "\"two words\"");
    CHECK(text_value(text_line("x\nconn service=x peer=1.2.3.4")) == "\"x\\nconn service=x peer=1.2.3.4\"");
    CHECK(text_value(text_line("cr\rover")) == "\"cr\\rover\"");
    CHECK(text_value(text_line("esc\x1b[2J")) == "\"esc\\u001b[2J\"");
    CHECK(text_value(text_line(nul)) == "\"a\\u0000b\"");
    CHECK(text_value(text_line("c1\xC2\x9B" "2J")) == "\"c1\\u009b2J\"");
    CHECK(text_value(text_line("bad\xFF")) == "\"bad\xEF\xBF\xBD\"");
    for (std::string_view v : {std::string_view("\n\n\n"), std::string_view("a\r\nb"), std::string_view("\xFF\xFE")}) {
        std::string line = text_line(v);
        CHECK(line.find('\n') == line.size() - 1);
        CHECK_FALSE(has_byte_below_space_or_del(line.substr(0, line.size() - 1)));
    }
}
