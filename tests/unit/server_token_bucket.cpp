// TokenBucket with a fake clock: burst, refill, cap, and a clock that
// misbehaves.
#include <doctest/doctest.h>

#include "server/token_bucket.hpp"

using sb::config::Rate;
using sb::server::TokenBucket;

namespace {

int take_all(TokenBucket& bucket, const Rate& rate, std::uint64_t now) {
    int n = 0;
    while (n < 100000 && bucket.try_take(rate, now)) ++n;
    return n;
}

}  // namespace

TEST_CASE("a new bucket admits exactly its burst at once") {
    Rate rate{10, 5};
    TokenBucket bucket(rate, 1000);
    for (int i = 0; i < 5; ++i) CHECK(bucket.try_take(rate, 1000));
    CHECK_FALSE(bucket.try_take(rate, 1000));
}

TEST_CASE("tokens come back at per_second") {
    Rate rate{10, 5};  // one token every 100 ms
    TokenBucket bucket(rate, 0);
    CHECK(take_all(bucket, rate, 0) == 5);
    CHECK_FALSE(bucket.try_take(rate, 99));  // n-1 ms: not yet
    CHECK(bucket.try_take(rate, 100));       // n ms: one token
    CHECK_FALSE(bucket.try_take(rate, 100));
    CHECK(take_all(bucket, rate, 350) == 2);  // 250 ms later: two and a half tokens
    CHECK(bucket.try_take(rate, 400));        // the half plus 50 ms made one more
}

TEST_CASE("refill stops at burst however long the bucket was idle") {
    Rate rate{100, 3};
    TokenBucket bucket(rate, 0);
    CHECK(take_all(bucket, rate, 0) == 3);
    CHECK(take_all(bucket, rate, 3'600'000) == 3);
    CHECK(bucket.level(rate, 10'000'000) == doctest::Approx(3));
}

TEST_CASE("fractional rates") {
    Rate rate{0.5, 1};  // one token every two seconds
    TokenBucket bucket(rate, 0);
    CHECK(bucket.try_take(rate, 0));
    CHECK_FALSE(bucket.try_take(rate, 1999));
    CHECK(bucket.try_take(rate, 2000));
}

TEST_CASE("has_token checks without charging; take charges") {
    Rate rate{1, 2};
    TokenBucket bucket(rate, 0);
    CHECK(bucket.has_token(rate, 0));
    CHECK(bucket.has_token(rate, 0));
    CHECK(bucket.level(rate, 0) == doctest::Approx(2));
    bucket.take(rate);
    bucket.take(rate);
    CHECK_FALSE(bucket.has_token(rate, 0));
    bucket.take(rate);  // never below zero
    CHECK(bucket.level(rate, 0) == doctest::Approx(0));
    CHECK(bucket.has_token(rate, 1000));
}

TEST_CASE("full() says when the bucket can be forgotten") {
    Rate rate{10, 2};
    TokenBucket bucket(rate, 0);
    CHECK(bucket.full(rate, 0));
    REQUIRE(bucket.try_take(rate, 0));
    CHECK_FALSE(bucket.full(rate, 0));
    CHECK_FALSE(bucket.full(rate, 99));
    CHECK(bucket.full(rate, 100));
}

TEST_CASE("a disabled rate always admits") {
    Rate off;
    REQUIRE_FALSE(off.enabled());
    TokenBucket bucket(off, 0);
    CHECK(take_all(bucket, off, 0) == 100000);
    CHECK(bucket.full(off, 0));
}

TEST_CASE("a clock that goes backwards refills nothing and does not wrap") {
    Rate rate{10, 1};
    TokenBucket bucket(rate, 5000);
    REQUIRE(bucket.try_take(rate, 5000));
    CHECK_FALSE(bucket.try_take(rate, 1000));
    CHECK_FALSE(bucket.try_take(rate, 5099));
    CHECK(bucket.try_take(rate, 5100));
}

TEST_CASE("a rate change takes effect at once and keeps the level within the new burst") {
    Rate fast{100, 10};
    Rate slow{1, 2};
    TokenBucket bucket(fast, 0);
    CHECK(bucket.level(slow, 0) == doctest::Approx(2));  // clamped to the new burst
    CHECK(take_all(bucket, slow, 0) == 2);
    CHECK_FALSE(bucket.try_take(slow, 999));
    CHECK(bucket.try_take(slow, 1000));
}

TEST_CASE("a burst below one token still admits one") {
    Rate rate{1, 0.25};
    TokenBucket bucket(rate, 0);
    CHECK(bucket.try_take(rate, 0));
    CHECK_FALSE(bucket.try_take(rate, 0));
}
