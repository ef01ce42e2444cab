// Argument rules: NULL -> 22004, bad value -> 22023, message names the parameter.
#include "core/common/error.hpp"
#include "core/common/validate.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

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

TEST(RequireDuration, BoundsAreEnforced) {
    EXPECT_EQ(coord::require_duration(coord::Micros{5}, "ttl", 10), 5);
    EXPECT_EQ(coord::require_duration(coord::Micros{10}, "ttl", 10), 10);
    EXPECT_EQ(error_of([] { coord::require_duration(std::nullopt, "ttl", 10); }).first, "22004");
    EXPECT_EQ(error_of([] { coord::require_duration(coord::Micros{0}, "ttl", 10); }).second,
              "ttl must be positive");
    EXPECT_EQ(error_of([] { coord::require_duration(coord::Micros{-1}, "ttl", 10); }).first, "22023");
    EXPECT_EQ(error_of([] {
                  coord::require_duration(coord::kMaxLeaseTtl + 1, "ttl", coord::kMaxLeaseTtl);
              }).second,
              "ttl must be at most 30 days");
}

TEST(RequireNonNegativeDuration, ZeroIsAllowedNegativeIsNot) {
    EXPECT_EQ(coord::require_non_negative_duration(coord::Micros{0}, "wait_for", 10), 0);
    EXPECT_EQ(error_of([] { coord::require_non_negative_duration(coord::Micros{-1}, "wait_for", 10); })
                  .second,
              "wait_for must not be negative");
}

TEST(IntervalConversion, MonthsAreThirtyDays) {
    EXPECT_EQ(coord::to_micros({1, 1, 1}), 31 * coord::kMicrosPerDay + 1);
}

TEST(DescribeDuration, PicksTheLargestWholeUnit) {
    EXPECT_EQ(coord::describe_duration(2 * coord::kMicrosPerHour), "2 hours");
    EXPECT_EQ(coord::describe_duration(coord::kMicrosPerSecond), "1 second");
    EXPECT_EQ(coord::describe_duration(1500), "1500 microseconds");
}

}  // namespace
