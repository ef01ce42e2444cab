// Compare-and-swap register rules: arguments, version matching, access.
#include "core/registers/register.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

#include <limits>

using namespace coord;

namespace {

TEST(RequireExpectedVersion, AcceptsZeroAndUp) {
    EXPECT_EQ(require_expected_version(0), 0);
    EXPECT_EQ(require_expected_version(41), 41);
    EXPECT_EQ(require_expected_version(std::numeric_limits<std::int64_t>::max() - 1),
              std::numeric_limits<std::int64_t>::max() - 1);
}

TEST(RequireExpectedVersion, RefusesNullNegativeAndTheLastBigint) {
    EXPECT_EQ(sqlstate_of([] { require_expected_version(std::nullopt); }), "22004");
    EXPECT_EQ(sqlstate_of([] { require_expected_version(-1); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_expected_version(std::numeric_limits<std::int64_t>::min()); }),
              "22023");
    EXPECT_EQ(sqlstate_of([] { require_expected_version(std::numeric_limits<std::int64_t>::max()); }),
              "22023");
}

TEST(RequireRegisterValueSize, TheLimitIsInclusive) {
    EXPECT_EQ(sqlstate_of([] { require_register_value_size(kMaxRegisterValueBytes); }), "none");
    auto [code, message] = error_of([] { require_register_value_size(kMaxRegisterValueBytes + 1); });
    EXPECT_EQ(code, "22023");
    EXPECT_EQ(message, "new_value is too large (8193 bytes as jsonb, at most 8192)");
}

TEST(CasMatches, ANeverWrittenKeyIsVersionZero) {
    EXPECT_EQ(version_of(std::nullopt), 0);
    EXPECT_TRUE(cas_matches(std::nullopt, 0));
    EXPECT_FALSE(cas_matches(std::nullopt, 1));
}

TEST(CasMatches, OnlyTheCurrentVersionMatches) {
    RegisterState s{3, 100};
    EXPECT_TRUE(cas_matches(s, 3));
    EXPECT_FALSE(cas_matches(s, 2));
    EXPECT_FALSE(cas_matches(s, 4));
    EXPECT_FALSE(cas_matches(s, 0));
}

TEST(RequireRegisterAccess, TheWritingRoleOrAnAdministrator) {
    EXPECT_EQ(sqlstate_of([] { require_register_access(FakeCaller{100}, 100, "k"); }), "none");
    EXPECT_EQ(sqlstate_of([] { require_register_access(FakeCaller{300, true}, 100, "k"); }), "none");
    auto [code, message] = error_of([] { require_register_access(FakeCaller{200}, 100, "k"); });
    EXPECT_EQ(code, "42501");
    EXPECT_EQ(message, "permission denied to use register \"k\"");
}

}  // namespace
