// Token rules: composition, epochs across promotions and restores, and the
// per-name rule for tokens that came from elsewhere.
#include "core/common/token.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

#include <limits>

using namespace coord;

namespace {

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();

TEST(ComposeToken, EpochInTheHighBitsCounterInTheLow47) {
    EXPECT_EQ(compose_token(1, 1), (std::int64_t{1} << 47) + 1);
    EXPECT_EQ(compose_token(kMaxTokenEpoch, kMaxTokenCounter), kMaxInt64);
    EXPECT_EQ(kMaxTokenEpoch, 65535);
    EXPECT_EQ(kMaxTokenCounter, 140737488355327);
    Token t = compose_token(3, 12345);
    EXPECT_EQ(token_epoch(t), 3);
    EXPECT_EQ(token_counter(t), 12345);
}

TEST(ComposeToken, EveryTokenOfALaterEpochIsLarger) {
    EXPECT_GT(compose_token(2, 1), compose_token(1, kMaxTokenCounter));
    EXPECT_GT(compose_token(kMaxTokenEpoch, 1), compose_token(kMaxTokenEpoch - 1, kMaxTokenCounter));
    EXPECT_GT(compose_token(1, 1), 0);  // positive, and above every token of 0.1's "last + 1" rule
}

// Past the last epoch or counter value: a limit a user can reach (54000).
// Below the first: only a bug can get there (the sequences start at 1).
TEST(ComposeToken, PastTheEndIsAProgramLimitBelowTheStartABug) {
    EXPECT_EQ(sqlstate_of([] { compose_token(kMaxTokenEpoch + 1, 1); }), "54000");
    EXPECT_EQ(sqlstate_of([] { compose_token(1, kMaxTokenCounter + 1); }), "54000");
    EXPECT_EQ(sqlstate_of([] { throw_token_counter_used_up(); }), "54000");
    EXPECT_EQ(sqlstate_of([] { compose_token(1, 0); }), "XX000");
    EXPECT_EQ(sqlstate_of([] { compose_token(0, 1); }), "XX000");
}

TEST(ClusterFingerprint, ThirtyOneBitsThatDependOnEveryBit) {
    std::uint64_t id = 7312345678901234567ULL;
    EXPECT_LE(cluster_fingerprint(id), 0x7FFFFFFFu);
    EXPECT_EQ(cluster_fingerprint(id), cluster_fingerprint(id));
    EXPECT_NE(cluster_fingerprint(id), cluster_fingerprint(id + 1));
    EXPECT_NE(cluster_fingerprint(id), cluster_fingerprint(id ^ (1ULL << 63)));
}

TEST(EpochRecord, PacksIntoOneBigintAndBack) {
    EpochRecord r{0x7FFFFFFF, 65535, 65535};
    std::int64_t packed = pack_epoch_record(r);
    EXPECT_GT(packed, 0);
    EXPECT_EQ(unpack_epoch_record(packed), r);
    EpochRecord small{5, 1, 1};
    EXPECT_EQ(unpack_epoch_record(pack_epoch_record(small)), small);
    EXPECT_EQ(unpack_epoch_record(std::nullopt), std::nullopt);
}

TEST(EpochRecord, ValuesNoPackMadeAreRefused) {
    EXPECT_EQ(sqlstate_of([] { unpack_epoch_record(std::int64_t{0}); }), "55000");   // timeline 0
    EXPECT_EQ(sqlstate_of([] { unpack_epoch_record(std::int64_t{-1}); }), "55000");
    EXPECT_EQ(sqlstate_of([] { unpack_epoch_record(std::int64_t{3} << 16 | 2); }), "55000");  // timeline > epoch
    EXPECT_EQ(sqlstate_of([] { pack_epoch_record({1, 0, 1}); }), "XX000");
    EXPECT_EQ(sqlstate_of([] { pack_epoch_record({1, 2, 1}); }), "XX000");
    EXPECT_EQ(sqlstate_of([] { pack_epoch_record({0x80000000u, 1, 1}); }), "XX000");
    EXPECT_EQ(sqlstate_of([] { pack_epoch_record({1, 1, kMaxTokenEpoch + 1}); }), "XX000");
}

constexpr std::uint32_t kHere = 11;
constexpr std::uint32_t kElsewhere = 22;

TEST(EpochOfTimeline, WithoutARecordTheTimelineItself) {
    EXPECT_EQ(epoch_of_timeline(std::nullopt, kHere, 1), 1);
    EXPECT_EQ(epoch_of_timeline(std::nullopt, kHere, 4), 4);
}

TEST(EpochOfTimeline, ThisClustersRecordGrowsByOnePerTimeline) {
    EpochRecord r{kHere, 2, 9};
    EXPECT_EQ(epoch_of_timeline(r, kHere, 2), 9);
    EXPECT_EQ(epoch_of_timeline(r, kHere, 3), 10);
    EXPECT_EQ(epoch_of_timeline(r, kHere, 7), 14);
}

TEST(EpochOfTimeline, TheAnswerDoesNotDependOnWhichOfThisClustersRecordsWasSeen) {
    // A standby that lagged behind the record its primary wrote after the
    // last promotion still computes the same epochs.
    EpochRecord older{kHere, 2, 9};
    EpochRecord newer{kHere, 5, epoch_of_timeline(older, kHere, 5)};
    for (std::int64_t timeline = 5; timeline < 10; ++timeline)
        EXPECT_EQ(epoch_of_timeline(older, kHere, timeline), epoch_of_timeline(newer, kHere, timeline));
}

TEST(EpochOfTimeline, ARecordFromAnotherClusterIsPassedByThisTimeline) {
    // A dump of a cluster on timeline 3 (epoch 3) restored into a new
    // cluster (timeline 1), or pg_upgrade (which starts at timeline 1 again).
    EpochRecord dumped{kElsewhere, 3, 3};
    std::int64_t restored = epoch_of_timeline(dumped, kHere, 1);
    EXPECT_EQ(restored, 4);
    // The new cluster writes its own record; a standby of it that had not
    // received that record yet and is promoted still goes past.
    EpochRecord written{kHere, 1, restored};
    EXPECT_EQ(epoch_of_timeline(written, kHere, 2), 5);
    EXPECT_EQ(epoch_of_timeline(dumped, kHere, 2), 5);
    // A timeline below the record's can only be another cluster's.
    EXPECT_EQ(epoch_of_timeline(EpochRecord{kHere, 3, 3}, kHere, 1), 4);
}

TEST(EpochOfTimeline, PastTheLastEpochIsAProgramLimit) {
    EXPECT_EQ(epoch_of_timeline(std::nullopt, kHere, kMaxTokenEpoch), kMaxTokenEpoch);
    EXPECT_EQ(sqlstate_of([] { epoch_of_timeline(std::nullopt, kHere, kMaxTokenEpoch + 1); }), "54000");
    EXPECT_EQ(sqlstate_of([] { epoch_of_timeline(std::nullopt, kHere, 0xFFFFFFFFLL); }), "54000");
    EpochRecord r{kHere, 1, kMaxTokenEpoch};
    EXPECT_EQ(epoch_of_timeline(r, kHere, 1), kMaxTokenEpoch);
    EXPECT_EQ(sqlstate_of([&] { epoch_of_timeline(r, kHere, 2); }), "54000");
    EXPECT_EQ(sqlstate_of([&] { epoch_of_timeline(r, kElsewhere, 1); }), "54000");
}

TEST(ChooseToken, TheAllocatorsTokenWhenLarger) {
    Token allocated = compose_token(1, 50);
    EXPECT_EQ(choose_token(allocated, 0), allocated);
    EXPECT_EQ(choose_token(allocated, 7), allocated);  // a token of the old "last + 1" rule
    EXPECT_EQ(choose_token(allocated, allocated - 1), allocated);
    EXPECT_EQ(choose_token(allocated, compose_token(1, kMaxTokenCounter) - kMaxTokenCounter), allocated);
}

TEST(ChooseToken, ATokenFromElsewhereIsContinuedWithTheNewCounter) {
    // The name's last token is from epoch 4, this server is in epoch 1.
    Token last = compose_token(4, 100);
    EXPECT_EQ(choose_token(compose_token(1, 101), last), compose_token(4, 101));
    EXPECT_EQ(choose_token(compose_token(1, 100), last), compose_token(5, 100));
    EXPECT_EQ(choose_token(compose_token(1, 3), last), compose_token(5, 3));
    // Equal: never the same token again.
    Token same = compose_token(1, 100);
    EXPECT_EQ(choose_token(same, same), compose_token(2, 100));
    for (Token allocated : {compose_token(1, 1), compose_token(1, 100), compose_token(4, 100)})
        EXPECT_GT(choose_token(allocated, last), last);
}

TEST(ChooseToken, NoEpochLeftIsAProgramLimit) {
    Token last = compose_token(kMaxTokenEpoch, 100);
    EXPECT_EQ(choose_token(compose_token(1, 101), last), compose_token(kMaxTokenEpoch, 101));
    EXPECT_EQ(sqlstate_of([&] { choose_token(compose_token(1, 100), last); }), "54000");
    EXPECT_EQ(sqlstate_of([] { choose_token(compose_token(1, 1), kMaxInt64); }), "54000");
}

}  // namespace
