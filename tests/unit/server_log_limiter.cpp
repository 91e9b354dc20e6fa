// LogLimiter: N lines per window, then silence, then one summary; and
// RejectLog's lines as they reach the log.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "switchboard/config.hpp"
#include "log/log.hpp"
#include "server/log_limiter.hpp"

using sb::server::LogLimiter;
using sb::server::RejectLog;
using sb::server::RejectReason;

TEST_CASE("the first N events of a window are written, the next is not") {
    LogLimiter limiter(3, 1000);
    for (int i = 0; i < 3; ++i) {  // n-1 and n
        auto v = limiter.note(0);
        CHECK(v.write);
        CHECK(v.suppressed == 0);
    }
    auto over = limiter.note(10);  // n+1
    CHECK_FALSE(over.write);
    CHECK(over.suppressed == 0);
    CHECK(limiter.suppressed() == 1);
}

TEST_CASE("the next window starts with a summary of what the last one dropped") {
    LogLimiter limiter(2, 1000);
    for (int i = 0; i < 102; ++i) (void)limiter.note(static_cast<std::uint64_t>(i));
    CHECK(limiter.suppressed() == 100);
    auto late = limiter.note(999);  // still the first window
    CHECK_FALSE(late.write);
    auto next = limiter.note(1000);
    CHECK(next.write);
    CHECK(next.suppressed == 101);
    CHECK(limiter.suppressed() == 0);
}

TEST_CASE("a quiet window ends without a summary") {
    LogLimiter limiter(2, 1000);
    CHECK(limiter.note(0).write);
    auto v = limiter.note(5000);
    CHECK(v.write);
    CHECK(v.suppressed == 0);
    CHECK(limiter.take_expired(10000) == 0);
}

TEST_CASE("take_expired reports a flood that stopped, once") {
    LogLimiter limiter(1, 1000);
    (void)limiter.note(0);
    for (int i = 0; i < 9; ++i) (void)limiter.note(1);
    CHECK(limiter.take_expired(999) == 0);  // window not over
    CHECK(limiter.take_expired(1000) == 9);
    CHECK(limiter.take_expired(5000) == 0);
    auto v = limiter.note(6000);  // a fresh window, nothing left to report
    CHECK(v.write);
    CHECK(v.suppressed == 0);
}

TEST_CASE("a sustained flood writes at most N lines and one summary per window") {
    LogLimiter limiter(5, 10000);
    int lines = 0;
    int summaries = 0;
    std::uint64_t reported = 0;
    const int events = 60000;  // 60 s of 1000 events/s
    for (int i = 0; i < events; ++i) {
        auto v = limiter.note(static_cast<std::uint64_t>(i));
        lines += v.write ? 1 : 0;
        if (v.suppressed != 0) {
            ++summaries;
            reported += v.suppressed;
        }
    }
    reported += limiter.take_expired(1'000'000);
    CHECK(lines == 30);
    CHECK(summaries == 5);  // the sixth window's summary came from take_expired
    CHECK(reported + static_cast<std::uint64_t>(lines) == static_cast<std::uint64_t>(events));
}

namespace {

// Sends the log to a temporary file for the life of the object.
class CapturedLog {
public:
    CapturedLog() {
        char name[] = "/tmp/sb-log-limiter-XXXXXX";
        int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        ::close(fd);
        path_ = name;
        sb::config::Log settings;
        settings.file = path_;
        REQUIRE(sb::log::configure(settings).empty());
    }
    ~CapturedLog() {
        (void)sb::log::configure(sb::config::Log{});
        ::unlink(path_.c_str());
    }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;

    [[nodiscard]] std::string text() const {
        std::string out;
        if (FILE* f = std::fopen(path_.c_str(), "r")) {
            char buf[4096];
            std::size_t n = 0;
            while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
            std::fclose(f);
        }
        return out;
    }

private:
    std::string path_;
};

int count(const std::string& text, const std::string& needle) {
    int n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("RejectLog limits each reason on its own and summarises in words") {
    CapturedLog captured;
    RejectLog log(2, 1000);
    auto peer = sb::net::SockAddr{};
    for (int i = 0; i < 50; ++i) log.rejected("echo", peer, RejectReason::rate, 10);
    log.rejected("echo", peer, RejectReason::per_source, 10);
    log.flush("echo", 500);  // windows not over: nothing yet
    std::string before = captured.text();
    CHECK(count(before, " reject service=echo") == 3);
    CHECK(count(before, "reason=rate") == 2);
    CHECK(count(before, "reason=per_source") == 1);
    CHECK(count(before, "reject-suppressed") == 0);

    log.flush("echo", 1010);
    std::string after = captured.text();
    CHECK(count(after, "reject-suppressed") == 1);  // per_source suppressed nothing
    CHECK(after.find("reject-suppressed service=echo reason=rate suppressed=48") != std::string::npos);
    CHECK(after.find("suppressed 48 similar messages") != std::string::npos);
}
