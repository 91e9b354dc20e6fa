// The fault seam: the list a test writes, counted faults running out, and
// the wrappers failing exactly like the kernel would.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "sys/faults.hpp"
#include "switchboard/fd.hpp"

using namespace sb::sys;

namespace {

FaultSet parse_ok(std::string_view spec) {
    std::string error;
    auto f = parse_faults(spec, error);
    REQUIRE_MESSAGE(f.has_value(), error);
    return *f;
}

std::string parse_error(std::string_view spec) {
    std::string error;
    auto f = parse_faults(spec, error);
    CHECK_FALSE(f.has_value());
    return error;
}

struct Disarm {
    ~Disarm() { arm_faults(FaultSet{}); }
};

}  // namespace

TEST_CASE("a fault list names calls, errnos and counts; an empty one arms nothing") {
    CHECK(describe_faults(parse_ok("")) == "none");
    CHECK(describe_faults(parse_ok("accept4=EMFILE*3, bind=EADDRINUSE\nspawn=EAGAIN*1")) ==
          "accept4=EMFILE*3 bind=EADDRINUSE spawn=EAGAIN*1");
    CHECK(describe_faults(parse_ok("log_write=ENOSPC pidfd_open=ENOMEM splice=EPIPE listen=ENFILE")) ==
          "listen=ENFILE splice=EPIPE log_write=ENOSPC pidfd_open=ENOMEM");
}

TEST_CASE("an invalid entry is refused with the entry named, and nothing is armed") {
    CHECK(parse_error("accept4") == "fault \"accept4\": expected CALL=ERRNO[*COUNT]");
    CHECK(parse_error("connect=EMFILE").find("unknown call") != std::string::npos);
    CHECK(parse_error("bind=EWHATEVER").find("unknown errno name") != std::string::npos);
    CHECK(parse_error("bind=EMFILE*0").find("positive") != std::string::npos);
    CHECK(parse_error("bind=EMFILE*x").find("positive") != std::string::npos);
    CHECK(parse_error("bind=EMFILE*").find("positive") != std::string::npos);
    CHECK(parse_error("bind=EMFILE*99999999999999").find("positive") != std::string::npos);
    CHECK(describe_faults() == "none");
}

TEST_CASE("a counted fault fails that many calls, then the real call runs again") {
    Disarm disarm;
    arm_faults(parse_ok("listen=EADDRINUSE*2"));
    sb::Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(s);
    errno = 0;
    CHECK(sb::sys::listen(s.get(), 1) == -1);
    CHECK(errno == EADDRINUSE);
    CHECK(describe_faults() == "listen=EADDRINUSE*1");
    CHECK(sb::sys::listen(s.get(), 1) == -1);
    CHECK(describe_faults() == "none");
    CHECK(sb::sys::listen(s.get(), 1) == 0);
    // Other calls were never affected.
    CHECK(fault(Call::accept4) == 0);
}

TEST_CASE("an uncounted fault lasts until the list changes") {
    Disarm disarm;
    arm_faults(parse_ok("log_write=ENOSPC"));
    for (int i = 0; i < 5; ++i) {
        errno = 0;
        CHECK(or_fault(Call::log_write, [] { return ::write(STDERR_FILENO, "", 0); }) == -1);
        CHECK(errno == ENOSPC);
    }
    arm_faults(parse_ok(""));
    CHECK(or_fault(Call::log_write, [] { return ::write(STDERR_FILENO, "", 0); }) == 0);
}
