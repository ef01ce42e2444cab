// Memory lease table rules: mixed kinds, expiry, reclaim, capacity, pins,
// token blocks.
#include "core/common/error.hpp"
#include "core/leases/memory_lease.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

using namespace coord;
using Kind = AcquireDecision::Kind;

namespace {

constexpr Micros kNow = 1'000'000'000;
constexpr Micros kTtl = 60'000'000;
const FakeCaller app{kApp};
const TokenSource next_token = [](Token last) { return last + 1; };

LeaseRecord held(const char* owner, Token token, Micros expires_at) {
    return LeaseRecord{std::string(owner), token, kNow - 10, expires_at, kApp};
}
LeaseRecord free_row(Token token) { return LeaseRecord{std::nullopt, token, 0, 0, 0}; }

TEST(MemoryLease, FreeNameIsGrantedAboveBothKindsTokens) {
    auto d = decide_memory_acquire(free_row(5), free_row(40), false, "n", "a", app, kNow, kTtl,
                                   next_token);
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(d.token, 41);
    d = decide_memory_acquire(std::nullopt, std::nullopt, false, "n", "a", app, kNow, kTtl,
                              next_token);
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(d.token, 1);
}

TEST(MemoryLease, LiveDurableHoldingIsBusyEvenForTheSameOwner) {
    auto d = decide_memory_acquire(std::nullopt, held("a", 7, kNow + 1), false, "n", "a", app,
                                   kNow, kTtl, next_token);
    EXPECT_EQ(d.kind, Kind::busy);
}

TEST(MemoryLease, DurableGrantInProgressIsBusy) {
    auto d = decide_memory_acquire(std::nullopt, std::nullopt, true, "n", "a", app, kNow, kTtl,
                                   next_token);
    EXPECT_EQ(d.kind, Kind::busy);
}

TEST(MemoryLease, ExpiredDurableHoldingIsTakenOver) {
    auto d = decide_memory_acquire(std::nullopt, held("b", 7, kNow), false, "n", "a", app, kNow,
                                   kTtl, next_token);
    EXPECT_EQ(d.kind, Kind::granted);
    EXPECT_EQ(d.token, 8);
}

TEST(MemoryLease, SameOwnerExtendsAnotherIsBusyExpiredIsTakenOver) {
    auto mine = decide_memory_acquire(held("a", 9, kNow + 5), std::nullopt, false, "n", "a", app,
                                      kNow, kTtl, next_token);
    EXPECT_EQ(mine.kind, Kind::extended);
    EXPECT_EQ(mine.token, 9);
    EXPECT_EQ(mine.expires_at, kNow + kTtl);
    auto other = decide_memory_acquire(held("b", 9, kNow + 5), std::nullopt, false, "n", "a",
                                       app, kNow, kTtl, next_token);
    EXPECT_EQ(other.kind, Kind::busy);
    // Expiry: at expires_at the holding is over.
    auto after = decide_memory_acquire(held("b", 9, kNow), std::nullopt, false, "n", "a", app,
                                       kNow, kTtl, next_token);
    EXPECT_EQ(after.kind, Kind::granted);
    EXPECT_EQ(after.token, 10);
}

TEST(MemoryLease, MemoryHoldingBlocksDurableUntilItExpires) {
    EXPECT_TRUE(memory_holding_blocks_durable(held("a", 1, kNow + 1), kNow));
    EXPECT_FALSE(memory_holding_blocks_durable(held("a", 1, kNow), kNow));
    EXPECT_FALSE(memory_holding_blocks_durable(free_row(3), kNow));
    EXPECT_FALSE(memory_holding_blocks_durable(std::nullopt, kNow));
}

TEST(MemoryLease, ReclaimNeedsNoLiveHoldingAndNoPin) {
    EXPECT_FALSE(memory_entry_reclaimable(held("a", 1, kNow + 1), kNow, 0));
    EXPECT_TRUE(memory_entry_reclaimable(held("a", 1, kNow), kNow, 0));
    EXPECT_FALSE(memory_entry_reclaimable(held("a", 1, kNow), kNow, 1));  // a fencer still runs
    EXPECT_TRUE(memory_entry_reclaimable(free_row(4), kNow, 0));
    EXPECT_FALSE(memory_entry_reclaimable(free_row(4), kNow, 2));
}

TEST(MemoryLease, CapacityIs53400WithAHint) {
    EXPECT_NO_THROW(require_memory_capacity(9, 10));
    try {
        require_memory_capacity(10, 10);
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.sqlstate(), "53400");
        EXPECT_NE(e.hint().find("coord.memory_leases"), std::string::npos);
    }
}

TEST(MemoryLease, ASetNeedsRoomForEveryNewHolding) {
    EXPECT_NO_THROW(require_memory_capacity(8, 10, 2));
    EXPECT_NO_THROW(require_memory_capacity(10, 10, 0));
    try {
        require_memory_capacity(9, 10, 2);
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.sqlstate(), "53400");
        EXPECT_STREQ(e.what(), "2 memory leases asked for, 1 of 10 slots free");
    }
}

TEST(MemoryLease, PinsAreBounded) {
    EXPECT_NO_THROW(require_pin_slot(kMaxMemoryPins - 1, "n"));
    EXPECT_EQ(sqlstate_of([] { require_pin_slot(kMaxMemoryPins, "n"); }), "53400");
}

TEST(MemoryLease, TokenBlocksStartAboveTheDurableCounter) {
    TokenBlock b = reserve_block(100, 3);
    EXPECT_EQ(b.end, 103);
    EXPECT_EQ(take_from_block(b), 101);
    EXPECT_EQ(take_from_block(b), 102);
    EXPECT_EQ(take_from_block(b), 103);
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(sqlstate_of([&] { take_from_block(b); }), "XX000");
    // After a restart the counter is at least the old block's end.
    TokenBlock next = reserve_block(b.end, 3);
    EXPECT_GT(take_from_block(next), 103);
    EXPECT_EQ(sqlstate_of([] { reserve_block(kMaxTokenCounter, 3); }), "54000");
}

}  // namespace
