// Leader election rules: what a campaign did, who leads, when a wait ends,
// who may resign, when an end is still to be announced, what NOTIFY says.
#include "core/election/election.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

using namespace coord;

namespace {

constexpr Micros kNow = 1'000'000'000;
constexpr RoleId kAlice = 100, kBob = 200;
const FakeCaller alice{kAlice}, bob{kBob}, admin{300, true};

// A holding of `role` (alice's unless told).
LeaseRecord lease(const char* owner, Token token, Micros expires_at, RoleId role = kAlice) {
    return LeaseRecord{std::string(owner), token, kNow - 10, expires_at, role};
}

ElectionRecord record(Term term, const char* leader, RoleId role, bool ended = false) {
    return ElectionRecord{term, leader, role, ended};
}

TEST(ElectionLeaseName, IsThePrefixAndTheElection) {
    EXPECT_EQ(election_lease_name("db"), "election:db");
    EXPECT_EQ(kMaxElectionNameBytes + kElectionLeasePrefix.size(), kMaxNameBytes);
}

TEST(DecideCampaign, NoTokenIsAFollower) {
    EXPECT_EQ(decide_campaign(record(7, "a", kAlice), std::nullopt, bob, "db", true),
              CampaignOutcome::follower);
}

TEST(DecideCampaign, FirstTermOfAnElectionIsNew) {
    EXPECT_EQ(decide_campaign(std::nullopt, 7, alice, "db", false), CampaignOutcome::new_term);
}

TEST(DecideCampaign, ATokenOtherThanTheRecordedTermIsANewTerm) {
    // Another role's old term does not matter once the lease moved on.
    EXPECT_EQ(decide_campaign(record(7, "a", kBob), 9, alice, "db", false),
              CampaignOutcome::new_term);
}

TEST(DecideCampaign, TheLeadersOwnCallIsAHeartbeatOrAProclamation) {
    EXPECT_EQ(decide_campaign(record(7, "a", kAlice), 7, alice, "db", false),
              CampaignOutcome::heartbeat);
    EXPECT_EQ(decide_campaign(record(7, "a", kAlice), 7, alice, "db", true),
              CampaignOutcome::proclaim);
}

TEST(DecideCampaign, AnotherRoleCannotContinueATerm) {
    auto [code, message] =
        error_of([] { decide_campaign(record(7, "a", kAlice), 7, bob, "db", false); });
    EXPECT_EQ(code, "42501");
    EXPECT_EQ(message, "permission denied to campaign in term 7 of election \"db\"");
    EXPECT_EQ(decide_campaign(record(7, "a", kAlice), 7, admin, "db", false),
              CampaignOutcome::heartbeat);
}

TEST(CurrentLeader, IsTheLiveLeaseHolder) {
    auto l = current_leader(lease("a", 7, kNow + 5), record(7, "a", kAlice), kNow);
    ASSERT_TRUE(l);
    EXPECT_EQ(l->leader, "a");
    EXPECT_EQ(l->term, 7);
    EXPECT_EQ(l->expires_at, kNow + 5);
    EXPECT_TRUE(l->record_is_of_term);
}

TEST(CurrentLeader, NobodyLeadsAfterExpiryOrReleaseOrBeforeTheFirstTerm) {
    EXPECT_FALSE(current_leader(lease("a", 7, kNow), record(7, "a", kAlice), kNow));
    EXPECT_FALSE(current_leader(LeaseRecord{std::nullopt, 7, 0, 0}, record(7, "a", kAlice), kNow));
    EXPECT_FALSE(current_leader(std::nullopt, std::nullopt, kNow));
}

TEST(CurrentLeader, ARecordOfAnotherTermLendsNoValue) {
    auto l = current_leader(lease("b", 9, kNow + 5), record(7, "a", kAlice), kNow);
    ASSERT_TRUE(l);
    EXPECT_FALSE(l->record_is_of_term);
}

TEST(DecideLeaderWait, ReturnsAtOnceWhenTheTermDiffers) {
    LeaderState l{"a", 7, kNow + 5, true};
    EXPECT_TRUE(decide_leader_wait(l, 6, kNow, kNow + 100).done);
    EXPECT_TRUE(decide_leader_wait(l, std::nullopt, kNow, kNow + 100).done);
    EXPECT_TRUE(decide_leader_wait(std::nullopt, 7, kNow, kNow + 100).done);
}

TEST(DecideLeaderWait, SleepsUntilTheLeadersExpiryOrTheDeadline) {
    LeaderState l{"a", 7, kNow + 5, true};
    auto step = decide_leader_wait(l, 7, kNow, kNow + 100);
    EXPECT_FALSE(step.done);
    EXPECT_EQ(step.sleep_until, kNow + 5);
    step = decide_leader_wait(l, 7, kNow, kNow + 3);
    EXPECT_EQ(step.sleep_until, kNow + 3);
    // Nobody leads and nobody was known to: wait for a first leader.
    step = decide_leader_wait(std::nullopt, std::nullopt, kNow, kNow + 100);
    EXPECT_FALSE(step.done);
    EXPECT_EQ(step.sleep_until, kNow + 100);
}

TEST(DecideLeaderWait, EndsAtTheDeadline) {
    LeaderState l{"a", 7, kNow + 500, true};
    EXPECT_TRUE(decide_leader_wait(l, 7, kNow + 100, kNow + 100).done);
}

TEST(DecideResign, OnlyTheLiveTermResigns) {
    EXPECT_TRUE(decide_resign(lease("a", 7, kNow + 5), 7, alice, "db", kNow));
    EXPECT_FALSE(decide_resign(lease("a", 7, kNow + 5), 6, alice, "db", kNow));
    EXPECT_FALSE(decide_resign(lease("a", 7, kNow), 7, alice, "db", kNow));
    EXPECT_FALSE(decide_resign(std::nullopt, 7, alice, "db", kNow));
}

TEST(DecideResign, AnotherRolesLiveTermIsRefusedButAnOldOneIsJustNotCurrent) {
    EXPECT_EQ(sqlstate_of([] {
                  decide_resign(lease("a", 7, kNow + 5), 7, bob, "db", kNow);
              }),
              "42501");
    EXPECT_FALSE(decide_resign(lease("a", 7, kNow + 5), 6, bob, "db", kNow));
    EXPECT_TRUE(decide_resign(lease("a", 7, kNow + 5), 7, admin, "db", kNow));
}

TEST(TermEndUnannounced, ALiveTermHasNotEnded) {
    EXPECT_FALSE(term_end_unannounced(record(7, "a", kAlice), lease("a", 7, kNow + 1), kNow));
}

TEST(TermEndUnannounced, ExpiryReleaseOrAnUnrecordedNewTermEndIt) {
    EXPECT_TRUE(term_end_unannounced(record(7, "a", kAlice), lease("a", 7, kNow), kNow));
    EXPECT_TRUE(term_end_unannounced(record(7, "a", kAlice), LeaseRecord{std::nullopt, 7, 0, 0}, kNow));
    EXPECT_TRUE(term_end_unannounced(record(7, "a", kAlice), lease("b", 8, kNow + 1), kNow));
    EXPECT_TRUE(term_end_unannounced(record(7, "a", kAlice), std::nullopt, kNow));
}

TEST(TermEndUnannounced, IsAnnouncedOnce) {
    EXPECT_FALSE(term_end_unannounced(record(7, "a", kAlice, true), lease("a", 7, kNow), kNow));
}

TEST(LeaderNotification, NamesTheElectionLeaderAndTerm) {
    EXPECT_EQ(leader_notification("db", LeaderEvent::elected, "node-1", 7),
              R"({"election": "db", "leader": "node-1", "term": 7, "event": "elected"})");
    EXPECT_EQ(leader_notification("db", LeaderEvent::proclaimed, "node-1", 7),
              R"({"election": "db", "leader": "node-1", "term": 7, "event": "proclaimed"})");
    EXPECT_EQ(leader_notification("db", LeaderEvent::resigned, "node-1", 7),
              R"({"election": "db", "leader": null, "term": null, "event": "resigned", "ended_term": 7})");
    EXPECT_EQ(leader_notification("d\"b", LeaderEvent::expired, "", 7),
              R"({"election": "d\"b", "leader": null, "term": null, "event": "expired", "ended_term": 7})");
}

}  // namespace
