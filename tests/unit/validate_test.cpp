// Argument rules: NULL -> 22004, bad value -> 22023, message names the parameter.
#include "core/common/error.hpp"
#include "core/common/validate.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace {


TEST(RequireText, AcceptsTextWithinLimit) {
    EXPECT_EQ(coord::require_text(std::string_view("abc"), "name", 3), "abc");
}

TEST(RequireText, RejectsNullEmptyAndTooLong) {
    auto null = error_of([] { coord::require_text(std::nullopt, "owner", 5); });
    EXPECT_EQ(null.first, "22004");
    EXPECT_EQ(null.second, "owner must not be NULL");
    auto empty = error_of([] { coord::require_text(std::string_view(""), "owner", 5); });
    EXPECT_EQ(empty.first, "22023");
    EXPECT_EQ(empty.second, "owner must not be empty");
    auto long_ = error_of([] { coord::require_text(std::string_view("abcdef"), "name", 5); });
    EXPECT_EQ(long_.first, "22023");
    EXPECT_EQ(long_.second, "name is too long (6 bytes, at most 5)");
}

using coord::IntervalParts;
using coord::kMicrosPerDay;
using coord::kMicrosPerHour;
using coord::Micros;
constexpr Micros kMost = std::numeric_limits<Micros>::max();
constexpr Micros kLeast = std::numeric_limits<Micros>::min();
constexpr std::int32_t kMostInt = std::numeric_limits<std::int32_t>::max();
constexpr std::int32_t kLeastInt = std::numeric_limits<std::int32_t>::min();

IntervalParts micros(Micros n) { return IntervalParts{0, 0, n}; }

TEST(RequireDuration, BoundsAreEnforced) {
    EXPECT_EQ(coord::require_duration(micros(5), "ttl", 10), 5);
    EXPECT_EQ(coord::require_duration(micros(10), "ttl", 10), 10);
    EXPECT_EQ(error_of([] { coord::require_duration(std::nullopt, "ttl", 10); }).first, "22004");
    EXPECT_EQ(error_of([] { coord::require_duration(micros(0), "ttl", 10); }).second,
              "ttl must be positive");
    EXPECT_EQ(error_of([] { coord::require_duration(micros(-1), "ttl", 10); }).first, "22023");
    EXPECT_EQ(error_of([] {
                  coord::require_duration(micros(coord::kMaxLeaseTtl + 1), "ttl", coord::kMaxLeaseTtl);
              }).second,
              "ttl must be at most 30 days");
    // A month is 30 days: exactly the limit, and one microsecond more.
    EXPECT_EQ(coord::require_duration(IntervalParts{1, 0, 0}, "ttl", coord::kMaxLeaseTtl),
              coord::kMaxLeaseTtl);
    EXPECT_EQ(error_of([] { coord::require_duration(IntervalParts{1, 0, 1}, "ttl", coord::kMaxLeaseTtl); })
                  .second,
              "ttl must be at most 30 days");
}

TEST(RequireNonNegativeDuration, ZeroIsAllowedNegativeIsNot) {
    EXPECT_EQ(coord::require_non_negative_duration(micros(0), "wait_for", 10), 0);
    EXPECT_EQ(error_of([] { coord::require_non_negative_duration(micros(-1), "wait_for", 10); })
                  .second,
              "wait_for must not be negative");
}

TEST(IntervalConversion, MonthsAreThirtyDays) {
    EXPECT_EQ(coord::to_micros_saturated({1, 1, 1}), 31 * kMicrosPerDay + 1);
    EXPECT_EQ(coord::to_micros_saturated({-1, 2, -3}), -28 * kMicrosPerDay - 3);
}

TEST(IntervalConversion, ExactUpToTheLimitsOfMicros) {
    EXPECT_EQ(coord::to_micros_saturated(micros(kMost)), kMost);
    EXPECT_EQ(coord::to_micros_saturated(micros(kLeast)), kLeast);
    // Fields that overflow 64 bits on their own but add up to a small value.
    // 3 600 000 months = 9.3312e18 microseconds (more than 2^63 - 1), less 2e17.
    EXPECT_EQ(coord::to_micros_saturated({3'600'000, 0, -200'000'000'000'000'000}),
              9'131'200'000'000'000'000);
    // 110 000 000 days = 9.504e18 microseconds, less 1e18.
    EXPECT_EQ(coord::to_micros_saturated({0, 110'000'000, -1'000'000'000'000'000'000}),
              8'504'000'000'000'000'000);
    // 106751 days is the last whole day below the limit.
    EXPECT_EQ(coord::to_micros_saturated({0, 106751, kMost - 106751 * kMicrosPerDay}), kMost);
}

TEST(IntervalConversion, SaturatesInsteadOfWrapping) {
    EXPECT_EQ(coord::to_micros_saturated({0, 1, kMost}), kMost);
    EXPECT_EQ(coord::to_micros_saturated({0, -1, kLeast}), kLeast);
    EXPECT_EQ(coord::to_micros_saturated({0, 106751, kMost - 106751 * kMicrosPerDay + 1}), kMost);
    EXPECT_EQ(coord::to_micros_saturated({kMostInt, kMostInt, kMost}), kMost);
    EXPECT_EQ(coord::to_micros_saturated({kLeastInt, kLeastInt, kLeast}), kLeast);
    EXPECT_EQ(coord::to_micros_saturated({kMostInt, 0, 0}), kMost);
    EXPECT_EQ(coord::to_micros_saturated({kLeastInt, 0, 0}), kLeast);
}

// interval '178000000 years' - interval '691327189 hours' - interval
// '3134515200 microseconds': months * 30 days wraps in 64 bits to exactly
// one hour more than the time field, so wrapped arithmetic accepted it as
// a ttl of 1 hour.
TEST(RequireDuration, TheIntervalThatWrappedToOneHourIsTooLong) {
    const IntervalParts wraps{178000000 * 12, 0, -691327189 * kMicrosPerHour - 3134515200};
    const Micros wrapped = static_cast<Micros>(
        static_cast<std::uint64_t>(wraps.micros) +
        static_cast<std::uint64_t>(std::int64_t{wraps.months}) * 30 * static_cast<std::uint64_t>(kMicrosPerDay));
    ASSERT_EQ(wrapped, kMicrosPerHour);
    EXPECT_EQ(coord::to_micros_saturated(wraps), kMost);
    for (const char* param : {"ttl", "wait_for", "retry_in"}) {
        auto [sqlstate, message] = error_of([&] { coord::require_duration(wraps, param, coord::kMaxLeaseTtl); });
        EXPECT_EQ(sqlstate, "22023");
        EXPECT_EQ(message, std::string(param) + " must be at most 30 days");
    }
    EXPECT_EQ(error_of([&] { coord::require_non_negative_duration(wraps, "wait_for", kMicrosPerDay); }).second,
              "wait_for must be at most 1 day");
    const IntervalParts negative{-wraps.months, 0, -wraps.micros};
    EXPECT_EQ(error_of([&] { coord::require_duration(negative, "ttl", coord::kMaxLeaseTtl); }).second,
              "ttl must be positive");
    EXPECT_EQ(error_of([&] { coord::require_non_negative_duration(negative, "wait_for", kMicrosPerDay); })
                  .second,
              "wait_for must not be negative");
}

TEST(DescribeDuration, PicksTheLargestWholeUnit) {
    EXPECT_EQ(coord::describe_duration(2 * coord::kMicrosPerHour), "2 hours");
    EXPECT_EQ(coord::describe_duration(coord::kMicrosPerSecond), "1 second");
    EXPECT_EQ(coord::describe_duration(1500), "1500 microseconds");
}

}  // namespace
