// Lease rules: exclusivity, same-owner retry, takeover, fencing.
#include "core/common/error.hpp"
#include "core/leases/lease.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <vector>

using coord::AcquireDecision;
using coord::LeaseRecord;
using Kind = AcquireDecision::Kind;

using namespace coord;

namespace {

constexpr coord::Micros kNow = 1'000'000'000;
constexpr coord::Micros kTtl = 60'000'000;

const FakeCaller app{kApp};

// For tests about roles, not tokens: any new token.
const coord::TokenSource next_token = [](coord::Token last) { return last + 1; };

LeaseRecord held_by(const char* owner, coord::Token token, coord::Micros expires_at,
                    coord::RoleId role = kApp) {
    return LeaseRecord{std::string(owner), token, kNow - 10, expires_at, role};
}

// A token source that records what it was asked and hands out 1000, 1001, ...
struct FakeAllocator {
    std::vector<coord::Token> asked;
    coord::Token next = 1000;
    coord::TokenSource source() {
        return [this](coord::Token last) {
            asked.push_back(last);
            return next++;
        };
    }
};

TEST(DecideAcquire, FirstAcquireOfANameTakesANewTokenAfterNone) {
    FakeAllocator tokens;
    auto d = decide_acquire(std::nullopt, "n", "a", app, kNow, kTtl, tokens.source());
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(d.token, 1000);
    EXPECT_EQ(tokens.asked, std::vector<coord::Token>{0});
    EXPECT_EQ(d.acquired_at, kNow);
    EXPECT_EQ(d.expires_at, kNow + kTtl);
}

TEST(DecideAcquire, AnotherOwnersUnexpiredHoldingIsBusyAndTakesNoToken) {
    FakeAllocator tokens;
    auto d = decide_acquire(held_by("a", 7, kNow + 1), "n", "b", app, kNow, kTtl, tokens.source());
    EXPECT_EQ(d.kind, Kind::busy);
    EXPECT_FALSE(d.write_needed());
    EXPECT_TRUE(tokens.asked.empty());
    EXPECT_FALSE(acquire_grants_new_holding(held_by("a", 7, kNow + 1), kNow));
}

TEST(DecideAcquire, SameOwnerRetryKeepsTokenAndStartExtendsExpiry) {
    FakeAllocator tokens;
    auto d = decide_acquire(held_by("a", 7, kNow + 1), "n", "a", app, kNow, kTtl, tokens.source());
    EXPECT_EQ(d.kind, Kind::extended);
    EXPECT_EQ(d.token, 7);
    EXPECT_EQ(d.acquired_at, kNow - 10);
    EXPECT_EQ(d.expires_at, kNow + kTtl);
    EXPECT_TRUE(tokens.asked.empty());
}

TEST(DecideAcquire, ExpiredHoldingIsTakenOverWithATokenAfterItsOwn) {
    FakeAllocator tokens;
    auto d = decide_acquire(held_by("a", 7, kNow), "n", "b", app, kNow, kTtl, tokens.source());  // expires_at == now: expired
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(d.token, 1000);
    EXPECT_EQ(tokens.asked, std::vector<coord::Token>{7});
    EXPECT_TRUE(acquire_grants_new_holding(held_by("a", 7, kNow), kNow));
}

TEST(DecideAcquire, SameOwnerAfterExpiryGetsANewToken) {
    FakeAllocator tokens;
    auto d = decide_acquire(held_by("a", 7, kNow - 1), "n", "a", app, kNow, kTtl, tokens.source());
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(tokens.asked, std::vector<coord::Token>{7});
}

TEST(DecideAcquire, FreeLeaseAsksForATokenAfterItsLast) {
    FakeAllocator tokens;
    LeaseRecord released{std::nullopt, 41, 0, 0};
    auto d = decide_acquire(released, "n", "z", app, kNow, kTtl, tokens.source());
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(d.token, 1000);
    EXPECT_EQ(tokens.asked, std::vector<coord::Token>{41});
    EXPECT_TRUE(acquire_grants_new_holding(released, kNow));
    EXPECT_TRUE(acquire_grants_new_holding(std::nullopt, kNow));
}

TEST(DecideRenew, CurrentHoldingGetsNewExpiry) {
    EXPECT_EQ(decide_renew(held_by("a", 3, kNow + 5), "n", 3, app, kNow, kTtl), kNow + kTtl);
}

TEST(DecideRenew, StaleExpiredOrFreeTokensAreLeaseLost) {
    EXPECT_EQ(sqlstate_of([] { decide_renew(held_by("a", 3, kNow + 5), "n", 2, app, kNow, kTtl); }), "PC001");
    EXPECT_EQ(sqlstate_of([] { decide_renew(held_by("a", 3, kNow - 5), "n", 3, app, kNow, kTtl); }), "PC001");
    EXPECT_EQ(sqlstate_of([] { decide_renew(LeaseRecord{std::nullopt, 3, 0, 0}, "n", 3, app, kNow, kTtl); }),
              "PC001");
    EXPECT_EQ(sqlstate_of([] { decide_renew(std::nullopt, "n", 1, app, kNow, kTtl); }), "PC001");
}

TEST(DecideRenew, LeaseLostExplainsWhy) {
    try {
        decide_renew(held_by("a", 9, kNow + 5), "billing", 4, app, kNow, kTtl);
        FAIL();
    } catch (const coord::Error& e) {
        EXPECT_STREQ(e.what(), "lease \"billing\" is not held by token 4");
        EXPECT_EQ(e.detail(), "The lease's current token is 9.");
    }
}

TEST(DecideRelease, OnlyTheCurrentUnexpiredTokenReleases) {
    EXPECT_TRUE(decide_release(held_by("a", 3, kNow + 5), "n", 3, app, kNow));
    EXPECT_FALSE(decide_release(held_by("a", 3, kNow + 5), "n", 2, app, kNow));
    EXPECT_FALSE(decide_release(held_by("a", 3, kNow - 5), "n", 3, app, kNow));
    EXPECT_FALSE(decide_release(std::nullopt, "n", 3, app, kNow));
}

TEST(DecideForceRelease, TrueOnlyForALiveHolding) {
    EXPECT_TRUE(decide_force_release(held_by("a", 3, kNow + 5), kNow));
    EXPECT_FALSE(decide_force_release(held_by("a", 3, kNow - 5), kNow));
    EXPECT_FALSE(decide_force_release(LeaseRecord{}, kNow));
}

TEST(HandOver, TheWaiterGetsANewTokenAndItsOwnTtlFromNow) {
    FakeAllocator tokens;
    LeaseRecord next = hand_over(held_by("a", 7, kNow + 5), "b", kOther, kNow, kTtl, tokens.source());
    EXPECT_EQ(next.owner, "b");
    EXPECT_EQ(next.token, 1000);
    EXPECT_EQ(next.acquired_at, kNow);
    EXPECT_EQ(next.expires_at, kNow + kTtl);
    EXPECT_EQ(next.holder_role, kOther);  // the waiter's role holds it now
    // The same owner waiting in another session still gets a new holding.
    EXPECT_EQ(hand_over(held_by("a", 7, kNow + 5), "a", kApp, kNow, kTtl, tokens.source()).token, 1001);
    EXPECT_EQ(tokens.asked, (std::vector<coord::Token>{7, 7}));
}

TEST(HandedOverTo, OnlyTheExactLiveHoldingThatWasPromised) {
    EXPECT_TRUE(handed_over_to(held_by("b", 8, kNow + 5), "b", 8, kNow));
    EXPECT_FALSE(handed_over_to(held_by("a", 7, kNow + 5), "b", 8, kNow));  // release rolled back
    EXPECT_FALSE(handed_over_to(held_by("b", 9, kNow + 5), "b", 8, kNow));  // a later holding
    EXPECT_FALSE(handed_over_to(held_by("c", 8, kNow + 5), "b", 8, kNow));
    EXPECT_FALSE(handed_over_to(held_by("b", 8, kNow), "b", 8, kNow));      // expired already
    EXPECT_FALSE(handed_over_to(LeaseRecord{std::nullopt, 8, 0, 0}, "b", 8, kNow));
    EXPECT_FALSE(handed_over_to(std::nullopt, "b", 8, kNow));
}

TEST(CheckFence, PassesForHolderAndRejectsEveryStaleCase) {
    EXPECT_NO_THROW(check_fence(held_by("a", 3, kNow + 5), "n", 3, app, kNow));
    EXPECT_EQ(sqlstate_of([] { check_fence(held_by("a", 4, kNow + 5), "n", 3, app, kNow); }), "PC001");
    EXPECT_EQ(sqlstate_of([] { check_fence(held_by("a", 3, kNow), "n", 3, app, kNow); }), "PC001");
    EXPECT_EQ(sqlstate_of([] { check_fence(std::nullopt, "n", 3, app, kNow); }), "PC001");
}

// A holding belongs to its role: the same owner string and token from
// another role are refused with 42501, and nothing is decided for them.
TEST(HoldingRole, AnotherRolesSameOwnerRetryIsRefused) {
    FakeCaller other{kOther};
    auto e = error_of([&] { decide_acquire(held_by("a", 7, kNow + 1), "billing", "a", other, kNow, kTtl, next_token); });
    EXPECT_EQ(e.first, "42501");
    EXPECT_EQ(e.second, "permission denied to acquire lease \"billing\"");
    EXPECT_EQ(other.admin_asked, 1);
}

TEST(HoldingRole, RefusalNamesBothRoles) {
    FakeCaller other{kOther};
    try {
        decide_renew(held_by("a", 3, kNow + 5), "billing", 3, other, kNow, kTtl);
        FAIL();
    } catch (const coord::Error& e) {
        EXPECT_STREQ(e.sqlstate(), "42501");
        EXPECT_STREQ(e.what(), "permission denied to renew lease \"billing\"");
        EXPECT_EQ(e.detail(), "Lease \"billing\" is held by role \"app\"; this call runs as role \"other\".");
        EXPECT_NE(e.hint().find("not credentials"), std::string::npos);
    }
}

TEST(HoldingRole, EveryActionOnAnotherRolesHoldingIsRefused) {
    FakeCaller other{kOther};
    LeaseRecord held = held_by("a", 3, kNow + 5);
    EXPECT_EQ(sqlstate_of([&] { decide_renew(held, "n", 3, other, kNow, kTtl); }), "42501");
    EXPECT_EQ(sqlstate_of([&] { decide_release(held, "n", 3, other, kNow); }), "42501");
    EXPECT_EQ(sqlstate_of([&] { check_fence(held, "n", 3, other, kNow); }), "42501");
}

TEST(HoldingRole, AStaleTokenIsLeaseLostWhateverTheRole) {
    FakeCaller other{kOther};
    LeaseRecord held = held_by("a", 3, kNow + 5);
    EXPECT_EQ(sqlstate_of([&] { decide_renew(held, "n", 2, other, kNow, kTtl); }), "PC001");
    EXPECT_EQ(sqlstate_of([&] { check_fence(held, "n", 2, other, kNow); }), "PC001");
    EXPECT_FALSE(decide_release(held, "n", 2, other, kNow));
    EXPECT_EQ(other.admin_asked, 0);
}

TEST(HoldingRole, AnotherOwnerOfAnotherRoleIsJustBusy) {
    FakeCaller other{kOther};
    EXPECT_EQ(decide_acquire(held_by("a", 7, kNow + 1), "n", "b", other, kNow, kTtl, next_token).kind, Kind::busy);
    EXPECT_EQ(other.admin_asked, 0);
}

TEST(HoldingRole, ANewHoldingBelongsToTheCallersRole) {
    FakeCaller other{kOther};
    EXPECT_EQ(decide_acquire(std::nullopt, "n", "a", other, kNow, kTtl, next_token).holder_role, kOther);
    // An expired holding of another role is taken over by the caller's role.
    auto d = decide_acquire(held_by("a", 7, kNow - 1), "n", "a", other, kNow, kTtl, next_token);
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(d.holder_role, kOther);
}

TEST(HoldingRole, TheSameRoleNeverAsksForAdmin) {
    FakeCaller me{kApp};
    LeaseRecord held = held_by("a", 3, kNow + 5);
    EXPECT_EQ(decide_acquire(held, "n", "a", me, kNow, kTtl, next_token).holder_role, kApp);
    decide_renew(held, "n", 3, me, kNow, kTtl);
    check_fence(held, "n", 3, me, kNow);
    EXPECT_TRUE(decide_release(held, "n", 3, me, kNow));
    EXPECT_EQ(me.admin_asked, 0);
}

TEST(HoldingRole, AnAdministratorMayActOnAnyHoldingWhichKeepsItsRole) {
    FakeCaller ops{kOps, /*admin=*/true};
    LeaseRecord held = held_by("a", 3, kNow + 5);
    auto d = decide_acquire(held, "n", "a", ops, kNow, kTtl, next_token);
    EXPECT_EQ(d.kind, Kind::extended);
    EXPECT_EQ(d.holder_role, kApp);
    EXPECT_EQ(decide_renew(held, "n", 3, ops, kNow, kTtl), kNow + kTtl);
    EXPECT_NO_THROW(check_fence(held, "n", 3, ops, kNow));
    EXPECT_TRUE(decide_release(held, "n", 3, ops, kNow));
}

TEST(HoldingRole, ADroppedRolesHoldingIsNamedByOid) {
    FakeCaller other{kOther};
    auto e = error_of([&] { check_fence(held_by("a", 3, kNow + 5, 4242), "n", 3, other, kNow); });
    EXPECT_EQ(e.first, "42501");
    try {
        check_fence(held_by("a", 3, kNow + 5, 4242), "n", 3, other, kNow);
    } catch (const coord::Error& err) {
        EXPECT_EQ(err.detail(), "Lease \"n\" is held by a dropped role (OID 4242); this call runs as role \"other\".");
    }
}

}  // namespace

TEST(ReleaseAll, TakesOnlyTheOwnersLiveHoldingsOfTheCallingRoleItself) {
    const Micros now = 1000;
    LeaseRecord mine{std::string("job-1"), 7, 0, now + 10, 42};
    EXPECT_TRUE(released_by_release_all(mine, "job-1", 42, now));
    EXPECT_FALSE(released_by_release_all(mine, "job-2", 42, now));  // another owner string
    EXPECT_FALSE(released_by_release_all(mine, "job-1", 43, now));  // another role, admin or not
    LeaseRecord expired{std::string("job-1"), 7, 0, now, 42};
    EXPECT_FALSE(released_by_release_all(expired, "job-1", 42, now));
    LeaseRecord free_name{std::nullopt, 7, 0, 0, 0};
    EXPECT_FALSE(released_by_release_all(free_name, "job-1", 0, now));
}
