// io/line_splitter: a child's stderr becomes log lines.
#include <doctest/doctest.h>
#include <unistd.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "io/line_splitter.hpp"
#include "process_support.hpp"
#include "uv/loop.hpp"

using namespace sb;
using Line = std::pair<std::string, bool>;  // text, truncated
constexpr std::size_t k_max = io::LineSplitter::k_max_line;

namespace {

// Feeds `chunks` one by one into a splitter and returns what it reported,
// flushing at the end as EOF would.
std::vector<Line> split(std::initializer_list<std::string> chunks) {
    uv::Loop loop;
    test::Pipe pipe;
    std::array<char, 64> scratch{};
    std::vector<Line> lines;
    io::LineSplitter splitter;
    int end_error = 1;
    REQUIRE(splitter.start(loop.get(), pipe.read, scratch,
                           [&](std::string_view line, bool truncated) { lines.emplace_back(line, truncated); },
                           [&](int error) { end_error = error; }) == 0);
    pipe.read = -1;  // the splitter owns it now
    for (const auto& chunk : chunks) splitter.feed(chunk);
    splitter.flush();
    splitter.close();
    CHECK(loop.close() == 0);
    CHECK(end_error == 1);  // feed/flush alone never report an end
    return lines;
}

}  // namespace

TEST_CASE("complete lines, partial lines across reads, CRLF and empty lines") {
    CHECK(split({"one\ntwo\n"}) == std::vector<Line>{{"one", false}, {"two", false}});
    CHECK(split({"par", "tial", " line\nnext"}) == std::vector<Line>{{"partial line", false}, {"next", false}});
    CHECK(split({"dos\r\n", "split cr\r", "\nbare\r"}) ==
          std::vector<Line>{{"dos", false}, {"split cr", false}, {"bare", false}});
    CHECK(split({"\n\nx\n"}) == std::vector<Line>{{"", false}, {"", false}, {"x", false}});
    CHECK(split({"no newline at eof"}) == std::vector<Line>{{"no newline at eof", false}});
    CHECK(split({}).empty());
}

TEST_CASE("an overlong line is cut at the limit and the rest of it dropped") {
    std::string longest(k_max, 'a');
    std::string too_long(k_max + 1000, 'b');
    SUBCASE("in one read") {
        CHECK(split({longest + "\n" + too_long + "\nafter\n"}) ==
              std::vector<Line>{{longest, false}, {std::string(k_max, 'b'), true}, {"after", false}});
    }
    SUBCASE("across many reads") {
        std::vector<Line> got = split({too_long.substr(0, 100), too_long.substr(100, 4000), too_long.substr(4100),
                                       "\nafter\n"});
        CHECK(got == std::vector<Line>{{std::string(k_max, 'b'), true}, {"after", false}});
    }
    SUBCASE("exactly the limit, its CRLF split across reads") {
        CHECK(split({longest + "\r", "\n"}) == std::vector<Line>{{longest, false}});
        CHECK(split({longest, "\r\n"}) == std::vector<Line>{{longest, false}});
    }
    SUBCASE("overlong without a newline at EOF") {
        CHECK(split({too_long}) == std::vector<Line>{{std::string(k_max, 'b'), true}});
    }
}

TEST_CASE("reading a real pipe: lines as they come, the last one at EOF, no buffer while idle") {
    uv::Loop loop;
    REQUIRE(loop.ok());
    test::Pipe pipe;
    std::array<char, 16> scratch{};  // small, so lines span several reads
    std::vector<Line> lines;
    int end_error = 1;
    bool closed = false;
    io::LineSplitter splitter;
    REQUIRE(splitter.start(loop.get(), pipe.read, scratch,
                           [&](std::string_view line, bool truncated) { lines.emplace_back(line, truncated); },
                           [&](int error) {
                               end_error = error;
                               splitter.close([&] { closed = true; });
                           }) == 0);
    pipe.read = -1;

    std::string first = "a line longer than the scratch buffer\r\nshort\npart";
    REQUIRE(::write(pipe.write, first.data(), first.size()) == static_cast<ssize_t>(first.size()));
    loop.run(UV_RUN_NOWAIT);
    CHECK(lines == std::vector<Line>{{"a line longer than the scratch buffer", false}, {"short", false}});
    CHECK(splitter.buffered() == 4);  // "part"

    REQUIRE(::write(pipe.write, "ial\nlast", 8) == 8);
    loop.run(UV_RUN_NOWAIT);
    CHECK(lines.size() == 3);
    CHECK(lines.back() == Line{"partial", false});
    pipe.close_write();
    loop.run();
    CHECK(end_error == 0);
    CHECK(closed);
    CHECK(lines.back() == Line{"last", false});
    CHECK(lines.size() == 4);
    CHECK(splitter.buffered() == 0);
    CHECK(loop.close() == 0);
}
