// Durations and sizes as users write them, and the messages for the ones
// that cannot be right.
#include <doctest/doctest.h>

#include "switchboard/config/load.hpp"

using namespace std::chrono_literals;
using sb::config::Duration;
using sb::config::parse_duration;
using sb::config::parse_size;

namespace {

Duration duration(std::string_view text) {
    std::string error;
    auto d = parse_duration(text, error);
    INFO(std::string(text), ": ", error);
    REQUIRE(d.has_value());
    return *d;
}

std::string duration_error(std::string_view text) {
    std::string error;
    auto d = parse_duration(text, error);
    INFO(std::string(text));
    CHECK_FALSE(d.has_value());
    return error;
}

std::uint64_t size(std::string_view text) {
    std::string error;
    auto s = parse_size(text, error);
    INFO(std::string(text), ": ", error);
    REQUIRE(s.has_value());
    return *s;
}

std::string size_error(std::string_view text) {
    std::string error;
    auto s = parse_size(text, error);
    INFO(std::string(text));
    CHECK_FALSE(s.has_value());
    return error;
}

}  // namespace

TEST_CASE("durations with units") {
    CHECK(duration("250ms") == 250ms);
    CHECK(duration("30s") == 30s);
    CHECK(duration("10m") == 10min);
    CHECK(duration("2h") == 2h);
    CHECK(duration("1.5s") == 1500ms);
    CHECK(duration("0.25m") == 15s);
    CHECK(duration("0s") == 0ms);
    CHECK(duration("1ms") == 1ms);
    CHECK(duration("007s") == 7s);
}

TEST_CASE("a bare number is seconds") {
    CHECK(duration("10") == 10s);
    CHECK(duration("0.5") == 500ms);
    CHECK(duration("0") == 0ms);
}

TEST_CASE("the longest duration is a year") {
    CHECK(duration("8760h") == 8760h);
    CHECK(duration_error("8761h") == "duration \"8761h\" is too long (at most 365 days)");
    CHECK(duration_error("99999999999999999999999999999h") ==
          "duration \"99999999999999999999999999999h\" is too long (at most 365 days)");
}

TEST_CASE("durations that cannot be right") {
    CHECK(duration_error("-1s") == "duration \"-1s\" must not be negative");
    CHECK(duration_error("0.5ms") == "duration \"0.5ms\" must be 0 or at least 1ms");
    CHECK(duration_error("3d") == "unknown unit \"d\" in duration \"3d\"; use ms, s, m or h");
    CHECK(duration_error("30 s") == "unknown unit \" s\" in duration \"30 s\"; use ms, s, m or h");
    CHECK(duration_error("30S") == "unknown unit \"S\" in duration \"30S\"; use ms, s, m or h");
    CHECK(duration_error("") == "empty duration; expected a number of seconds or a string like \"30s\"");
    const std::string garbage =
        "; expected a number with a unit, like \"250ms\", \"30s\", \"10m\" or \"2h\"";
    CHECK(duration_error("s") == "invalid duration \"s\"" + garbage);
    CHECK(duration_error(".5s") == "invalid duration \".5s\"" + garbage);
    CHECK(duration_error("1.s") == "invalid duration \"1.s\"" + garbage);
    CHECK(duration_error("1e3s") == "unknown unit \"e3s\" in duration \"1e3s\"; use ms, s, m or h");
    CHECK(duration_error("inf") == "invalid duration \"inf\"" + garbage);
    CHECK(duration_error("nan") == "invalid duration \"nan\"" + garbage);
}

TEST_CASE("sizes") {
    CHECK(size("0") == 0);
    CHECK(size("512") == 512);
    CHECK(size("64K") == 64 * 1024);
    CHECK(size("64k") == 64 * 1024);
    CHECK(size("1M") == 1024 * 1024);
    CHECK(size("2G") == 2ULL * 1024 * 1024 * 1024);
    CHECK(size("1T") == 1ULL << 40);
    CHECK(size("1.5K") == 1536);
    CHECK(size("18446744073709551615") == UINT64_MAX);
    CHECK(size("16777215T") == 16777215ULL << 40);
}

TEST_CASE("sizes that cannot be right") {
    CHECK(size_error("18446744073709551616") == "size \"18446744073709551616\" is too large");
    CHECK(size_error("16777216T") == "size \"16777216T\" is too large");
    CHECK(size_error("99999999999999999.5T") == "size \"99999999999999999.5T\" is too large");
    CHECK(size_error("-1K") == "size \"-1K\" must not be negative");
    CHECK(size_error("1.5") == "size \"1.5\" is not a whole number of bytes");
    CHECK(size_error("10MB") == "unknown unit \"MB\" in size \"10MB\"; use K, M, G or T (powers of 1024)");
    CHECK(size_error("10X") == "unknown unit \"X\" in size \"10X\"; use K, M, G or T (powers of 1024)");
    CHECK(size_error("") == "empty size; expected a number of bytes or a string like \"64K\"");
    CHECK(size_error("K") ==
          "invalid size \"K\"; expected a number of bytes or a number with a unit, like \"64K\", \"1M\" or \"2G\"");
}
