// FdBudget: headroom, the pause threshold at its boundary, the base that
// corrects itself, and the measurement of the real fd table.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "server/fd_budget.hpp"

using sb::server::FdBudget;

TEST_CASE("headroom is 1% of the limit, at least 64 and at most 4096, never more than half") {
    CHECK(FdBudget::headroom_for(1'048'576) == 4096);  // 1% would be 10485
    CHECK(FdBudget::headroom_for(409'600) == 4096);    // 1% is exactly 4096
    CHECK(FdBudget::headroom_for(20'000) == 200);
    CHECK(FdBudget::headroom_for(6400) == 64);  // 1% is exactly 64
    CHECK(FdBudget::headroom_for(1024) == 64);  // 1% would be 10
    CHECK(FdBudget::headroom_for(128) == 64);   // half of 128
    CHECK(FdBudget::headroom_for(64) == 32);    // half of 64
    CHECK(FdBudget::headroom_for(40) == 20);
    CHECK(FdBudget::headroom_for(0) == 0);
}

TEST_CASE("accepting pauses when only the headroom is left, and resumes below it") {
    FdBudget budget(1024, 10);  // headroom 64: connections may use up to 960
    REQUIRE(budget.headroom() == 64);
    CHECK(budget.available() == 950);
    budget.acquire(948);  // two short of the ceiling
    CHECK(budget.available() == 2);
    CHECK_FALSE(budget.should_pause());
    budget.acquire();  // n-1 in use
    CHECK(budget.available() == 1);
    CHECK_FALSE(budget.should_pause());
    budget.acquire();  // n: the ceiling
    CHECK(budget.in_use() == 960);
    CHECK(budget.available() == 0);
    CHECK(budget.should_pause());
    budget.acquire();  // n+1: past it (a child's pipes, say)
    CHECK(budget.should_pause());
    CHECK(budget.available() == 0);
    budget.release(2);
    CHECK_FALSE(budget.should_pause());
    CHECK(budget.available() == 1);
}

TEST_CASE("children may use half the headroom, reloads keep the other half") {
    FdBudget budget(1024, 0);  // headroom 64
    budget.acquire(960);
    REQUIRE(budget.should_pause());
    CHECK(budget.can_spawn(32));   // 960 + 32 + 32 = 1024
    CHECK_FALSE(budget.can_spawn(33));
}

TEST_CASE("release never goes below zero") {
    FdBudget budget(100, 5);
    budget.acquire(2);
    budget.release(10);
    CHECK(budget.in_use() == 5);
}

TEST_CASE("an accepted fd number proves a lower bound on the count") {
    FdBudget budget(1000, 10);  // thinks fds 0..9 are open
    budget.acquire_fd(10);      // consistent: now 11
    CHECK(budget.in_use() == 11);
    budget.acquire_fd(40);  // 0..40 are open: something opened 29 fds unreported
    CHECK(budget.in_use() == 41);
    budget.release(2);  // the two reported connections close
    CHECK(budget.in_use() == 39);
    budget.acquire_fd(3);  // a low fd (a hole was reused): proves nothing new
    CHECK(budget.in_use() == 40);
}

TEST_CASE("rebase keeps the reported fds and replaces the rest") {
    FdBudget budget(1000, 10);
    budget.acquire(100);
    budget.rebase(150);  // 150 open, 100 of them reported
    CHECK(budget.in_use() == 150);
    budget.release(100);
    CHECK(budget.in_use() == 50);
    budget.rebase(3);
    CHECK(budget.in_use() == 3);
    budget.acquire(10);
    budget.rebase(4);  // fewer open than reported: the count is corrected to what is open
    CHECK(budget.in_use() == 4);
    budget.release(4);
    CHECK(budget.in_use() == 0);
}

TEST_CASE("the fd table is measured for real") {
    auto before = sb::server::count_open_fds();
    REQUIRE(before.has_value());
    CHECK(*before >= 3);
    std::vector<int> fds;
    for (int i = 0; i < 7; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto during = sb::server::count_open_fds();
    for (int fd : fds) ::close(fd);
    REQUIRE(during.has_value());
    CHECK(*during == *before + 7);
    CHECK(sb::server::count_open_fds() == before);

    FdBudget process = FdBudget::of_process();
    rlimit rl{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(process.limit() == rl.rlim_cur);
    CHECK(process.in_use() == *before);
    // Fds opened and reported are counted once by a measurement.
    for (int i = 0; i < 5; ++i) fds[static_cast<std::size_t>(i)] = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    process.acquire(5);
    CHECK(process.in_use() == *before + 5);
    CHECK(process.measure());
    CHECK(process.in_use() == *before + 5);
    for (int i = 0; i < 5; ++i) ::close(fds[static_cast<std::size_t>(i)]);
    process.release(5);
    CHECK(process.in_use() == *before);
    // Reported but never opened (a close that went unreported): the
    // measurement wins.
    process.acquire(100);
    CHECK(process.measure());
    CHECK(process.in_use() == *before);
}
