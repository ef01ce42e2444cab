// Task queue rules: states, claim tokens, retries, backoff, argument limits.
#include "core/common/error.hpp"
#include "core/queue/task.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

#include <functional>

using namespace coord;

namespace {

constexpr Micros kNow = 1'000'000'000'000;

TaskClaimState processing(std::int64_t token, std::int32_t attempts, std::int32_t max_attempts) {
    return TaskClaimState{TaskState::processing, token, attempts, max_attempts, kApp};
}

}  // namespace

TEST(TaskState, NamesRoundTrip) {
    for (TaskState s : {TaskState::pending, TaskState::processing, TaskState::complete, TaskState::dead})
        EXPECT_EQ(parse_task_state(to_string(s)), s);
    EXPECT_FALSE(parse_task_state("running").has_value());
}

TEST(TaskClaim, CurrentClaimIsAccepted) {
    EXPECT_EQ(sqlstate_of([] { require_current_claim(processing(3, 3, 5), 1, 3, "complete"); }), "none");
}

TEST(TaskClaim, StaleTokenIsLeaseLost) {
    // Requeued and claimed again: token moved on.
    EXPECT_EQ(sqlstate_of([] { require_current_claim(processing(4, 4, 5), 1, 3, "complete"); }), "PC001");
    // A token from the future is not current either.
    EXPECT_EQ(sqlstate_of([] { require_current_claim(processing(4, 4, 5), 1, 5, "complete"); }), "PC001");
}

TEST(TaskClaim, EndedClaimIsLeaseLost) {
    for (TaskState s : {TaskState::pending, TaskState::complete, TaskState::dead}) {
        TaskClaimState t{s, 3, 3, 5};
        EXPECT_EQ(sqlstate_of([&] { require_current_claim(t, 1, 3, "fail"); }), "PC001") << to_string(s);
    }
    EXPECT_EQ(sqlstate_of([] { require_current_claim(std::nullopt, 1, 1, "heartbeat"); }), "PC001");
}

TEST(TaskClaim, MessageNamesTaskAndTokens) {
    try {
        require_current_claim(processing(4, 4, 5), 77, 3, "complete");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "cannot complete task 77: claim 3 is not the current claim");
        EXPECT_NE(e.detail().find("current claim token is 4"), std::string::npos);
    }
}

TEST(TaskRetry, FailBeforeMaxAttemptsIsPendingAgain) {
    RetryDecision d = decide_retry(processing(1, 1, 5), kNow, 30 * kMicrosPerSecond, 0.5);
    EXPECT_EQ(d.next, TaskState::pending);
    EXPECT_EQ(d.run_at, kNow + 30 * kMicrosPerSecond);
}

TEST(TaskRetry, ZeroRetryInMeansNow) {
    RetryDecision d = decide_retry(processing(1, 1, 5), kNow, Micros{0}, 0.5);
    EXPECT_EQ(d.next, TaskState::pending);
    EXPECT_EQ(d.run_at, kNow);
}

TEST(TaskRetry, DefaultIsBackoffWithJitter) {
    RetryDecision d = decide_retry(processing(3, 3, 5), kNow, std::nullopt, 0.0);
    EXPECT_EQ(d.next, TaskState::pending);
    EXPECT_EQ(d.run_at, kNow + backoff_delay(3, 0.0));
}

TEST(TaskRetry, LastAttemptFailedIsDead) {
    EXPECT_EQ(decide_retry(processing(5, 5, 5), kNow, std::nullopt, 0.3).next, TaskState::dead);
    EXPECT_EQ(decide_retry(processing(1, 1, 1), kNow, Micros{0}, 0.3).next, TaskState::dead);
    // Attempts above max (max lowered by hand) are dead too.
    EXPECT_EQ(decide_retry(processing(7, 7, 5), kNow, std::nullopt, 0.3).next, TaskState::dead);
}

TEST(TaskBackoff, DoublesPerAttemptWithinJitterBounds) {
    // attempt n: delay d = base * 2^(n-1); result in [d/2, d).
    for (int attempt = 1; attempt <= 10; ++attempt) {
        Micros d = kBackoffBase << (attempt - 1);
        EXPECT_EQ(backoff_delay(attempt, 0.0), d / 2) << attempt;
        EXPECT_LT(backoff_delay(attempt, 0.999999), d) << attempt;
        EXPECT_GE(backoff_delay(attempt, 0.999999), d / 2) << attempt;
    }
    EXPECT_EQ(backoff_delay(1, 0.5), 750'000);
    EXPECT_EQ(backoff_delay(2, 0.5), 1'500'000);
}

TEST(TaskBackoff, JitterSpreadsRetries) {
    EXPECT_LT(backoff_delay(4, 0.1), backoff_delay(4, 0.9));
}

TEST(TaskBackoff, CappedAndSafeForHugeAttempts) {
    EXPECT_EQ(backoff_delay(13, 0.0), kBackoffCap / 2);
    EXPECT_EQ(backoff_delay(1000, 0.0), kBackoffCap / 2);
    EXPECT_LT(backoff_delay(1000, 0.999), kBackoffCap);
    EXPECT_EQ(backoff_delay(0, 0.0), kBackoffBase / 2);
    // Out-of-range jitter is clamped.
    EXPECT_EQ(backoff_delay(1, -3.0), kBackoffBase / 2);
    EXPECT_EQ(backoff_delay(1, 7.0), kBackoffBase);
}

TEST(TaskRetryDead, OnlyDeadTasksAndOneMoreAttempt) {
    EXPECT_EQ(decide_retry_dead(TaskClaimState{TaskState::dead, 5, 5, 5}), 6);
    EXPECT_EQ(decide_retry_dead(TaskClaimState{TaskState::dead, 2, 2, 5}), 5);
    EXPECT_FALSE(decide_retry_dead(TaskClaimState{TaskState::pending, 2, 2, 5}).has_value());
    EXPECT_FALSE(decide_retry_dead(processing(2, 2, 5)).has_value());
    EXPECT_FALSE(decide_retry_dead(std::nullopt).has_value());
}

TEST(TaskArgs, Validation) {
    EXPECT_EQ(sqlstate_of([] { require_queue_name(std::nullopt); }), "22004");
    EXPECT_EQ(sqlstate_of([] { require_queue_name(""); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_queue_name(std::string(kMaxQueueNameBytes + 1, 'q')); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_queue_name(std::string(kMaxQueueNameBytes, 'q')); }), "none");
    EXPECT_EQ(sqlstate_of([] { require_worker(std::nullopt); }), "22004");
    EXPECT_EQ(sqlstate_of([] { check_dedupe_key(std::nullopt); }), "none");
    EXPECT_EQ(sqlstate_of([] { check_dedupe_key(""); }), "22023");
    EXPECT_EQ(sqlstate_of([] { check_dedupe_for(std::nullopt, false); }), "none");
    EXPECT_EQ(sqlstate_of([] { check_dedupe_for(IntervalParts{0, 0, 1000000}, false); }), "22023");
    EXPECT_EQ(sqlstate_of([] { check_dedupe_for(IntervalParts{0, 0, -1}, true); }), "22023");
    EXPECT_EQ(sqlstate_of([] { check_dedupe_for(IntervalParts{0, 0, 0}, true); }), "22023");
    EXPECT_EQ(sqlstate_of([] { check_dedupe_for(IntervalParts{0, 1, 0}, true); }), "none");
    EXPECT_EQ(sqlstate_of([] { require_max_attempts(0); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_max_attempts(kMaxAttemptsLimit + 1); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_max_attempts(std::nullopt); }), "22004");
    EXPECT_EQ(sqlstate_of([] { require_max_attempts(1); }), "none");
    EXPECT_EQ(sqlstate_of([] { require_batch(0); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_batch(kMaxClaimBatch); }), "none");
    EXPECT_EQ(sqlstate_of([] { require_priority(std::nullopt); }), "22004");
    EXPECT_EQ(sqlstate_of([] { check_json_size(kMaxPayloadBytes + 1, "payload"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { check_json_size(kMaxPayloadBytes, "payload"); }), "none");
}

TEST(TaskArgs, RunAt) {
    EXPECT_EQ(resolve_run_at(std::nullopt, kNow), kNow);
    EXPECT_EQ(resolve_run_at(kNow - 5, kNow), kNow - 5);
    EXPECT_EQ(sqlstate_of([] { resolve_run_at(kNow + kMaxRunAtAhead + 1, kNow); }), "22023");
}

TEST(TaskArgs, ErrorTextIsRequiredAndTruncatedAtCharacterBoundary) {
    EXPECT_EQ(sqlstate_of([] { normalize_error_text(std::nullopt); }), "22004");
    EXPECT_EQ(sqlstate_of([] { normalize_error_text(""); }), "22023");
    EXPECT_EQ(normalize_error_text("smtp down"), "smtp down");
    std::string long_text;
    while (long_text.size() < kMaxTaskErrorBytes + 100) long_text += "\xC3\xA9";  // é
    std::string cut = normalize_error_text(long_text);
    EXPECT_LE(cut.size(), kMaxTaskErrorBytes);
    EXPECT_NE(cut.find("[truncated]"), std::string::npos);
    std::string body = cut.substr(0, cut.find(" ... [truncated]"));
    EXPECT_EQ(body.size() % 2, 0u);  // whole two-byte characters only
}

// A claim belongs to the role that claimed.
TEST(TaskClaimRole, TheClaimantsRoleMayActWithoutALookUp) {
    FakeCaller me{kApp};
    EXPECT_EQ(sqlstate_of([&] { require_claim_role(processing(3, 1, 5), 7, me, "complete"); }), "none");
    EXPECT_EQ(me.admin_asked, 0);
}

TEST(TaskClaimRole, AnotherRoleIsRefusedNamingTheClaimant) {
    FakeCaller other{kOther};
    auto e = error_of([&] { require_claim_role(processing(3, 1, 5), 7, other, "heartbeat"); });
    EXPECT_EQ(e, (std::pair<std::string, std::string>{"42501", "permission denied to heartbeat task 7"}));
    try {
        require_claim_role(processing(3, 1, 5), 7, other, "fail");
    } catch (const Error& err) {
        EXPECT_EQ(err.detail(), "Task 7 is claimed by role \"app\"; this call runs as role \"other\".");
    }
    TaskClaimState done{TaskState::complete, 3, 1, 5, kApp};
    try {
        require_claim_role(done, 7, other, "complete");
        FAIL();
    } catch (const Error& err) {
        EXPECT_EQ(err.detail(), "Task 7 was completed by role \"app\"; this call runs as role \"other\".");
    }
    // A member of the claimant's role acts only as that role (SET ROLE).
    FakeCaller member{kOther};
    member.inherits.insert(kApp);
    EXPECT_EQ(sqlstate_of([&] { require_claim_role(processing(3, 1, 5), 7, member, "complete"); }), "42501");
}

TEST(TaskClaimRole, AnAdministratorMayAct) {
    FakeCaller ops{kOps, /*admin=*/true};
    EXPECT_EQ(sqlstate_of([&] { require_claim_role(processing(3, 1, 5), 7, ops, "complete"); }), "none");
}

TEST(TaskReader, EnqueuerClaimantMembersAndAdministratorsMayRead) {
    FakeCaller me{kApp};
    EXPECT_EQ(sqlstate_of([&] { require_task_reader(me, 7, kApp, std::nullopt); }), "none");
    EXPECT_EQ(me.admin_asked + me.privileges_asked, 0);
    FakeCaller claimant{kOther};
    EXPECT_EQ(sqlstate_of([&] { require_task_reader(claimant, 7, kApp, kOther); }), "none");
    FakeCaller member{kOther};
    member.inherits.insert(kApp);
    EXPECT_EQ(sqlstate_of([&] { require_task_reader(member, 7, kApp, std::nullopt); }), "none");
    FakeCaller ops{kOps, /*admin=*/true};
    EXPECT_EQ(sqlstate_of([&] { require_task_reader(ops, 7, kApp, kOther); }), "none");
}

TEST(TaskReader, AnyOtherRoleIsRefused) {
    FakeCaller other{kOther};
    auto e = error_of([&] { require_task_reader(other, 7, kApp, kOps); });
    EXPECT_EQ(e, (std::pair<std::string, std::string>{"42501", "permission denied to read task 7"}));
    try {
        require_task_reader(other, 7, kApp, std::nullopt);
    } catch (const Error& err) {
        EXPECT_EQ(err.detail(), "Task 7 was enqueued by role \"app\"; this call runs as role \"other\".");
    }
}
