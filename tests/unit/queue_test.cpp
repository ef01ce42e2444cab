// Explicit queues: argument checks, 42704 for a missing queue, who may use
// and manage a queue (core/queue/queue.hpp).
#include "core/common/error.hpp"
#include "core/queue/queue.hpp"
#include "core/queue/task.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

using namespace coord;

TEST(QueuePrivilege, NamesRoundTrip) {
    for (QueuePrivilege p : {QueuePrivilege::produce, QueuePrivilege::consume, QueuePrivilege::observe})
        EXPECT_EQ(require_queue_privilege_name(std::string_view(to_string(p))), p);
    EXPECT_EQ(sqlstate_of([] { require_queue_privilege_name(std::string_view("read")); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_queue_privilege_name(std::nullopt); }), "22004");
}

TEST(QueueSettings, Limits) {
    EXPECT_EQ(require_queue_max_attempts(5), 5);
    EXPECT_EQ(sqlstate_of([] { require_queue_max_attempts(0); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_queue_max_attempts(1001); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_queue_max_attempts(std::nullopt); }), "22004");
    EXPECT_EQ(require_retention(IntervalParts{0, 0, 0}), 0);
    EXPECT_EQ(require_retention(IntervalParts{0, 7, 0}), 7 * kMicrosPerDay);
    EXPECT_EQ(sqlstate_of([] { require_retention(IntervalParts{-1, 0, 0}); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_retention(IntervalParts{0, 3651, 0}); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_backoff_max(IntervalParts{0, 0, 0}); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_backoff_max(IntervalParts{0, 31, 0}); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_backoff_max(std::nullopt); }), "22004");
    EXPECT_EQ(sqlstate_of([] { require_notify(std::nullopt); }), "22004");
}

TEST(QueueExists, MissingQueueIsUndefinedObject) {
    EXPECT_EQ(sqlstate_of([] { require_queue_exists(std::nullopt, "mial"); }), "42704");
    EXPECT_EQ(sqlstate_of([] { require_queue_exists(QueueAccess{kApp, false}, "mail"); }), "none");
}

TEST(QueueUse, CreatorGranteeMemberAndAdmin) {
    FakeCaller creator(kApp);
    FakeCaller other(kOther);
    FakeCaller member(kOther);
    member.inherits.insert(kApp);
    FakeCaller admin(kOps, /*admin=*/true);
    QueueAccess no_grant{kApp, false};
    QueueAccess granted{kApp, true};
    EXPECT_TRUE(may_use_queue(creator, no_grant));
    EXPECT_FALSE(may_use_queue(other, no_grant));
    EXPECT_TRUE(may_use_queue(other, granted));
    EXPECT_TRUE(may_use_queue(member, no_grant));
    EXPECT_TRUE(may_use_queue(admin, no_grant));
    EXPECT_EQ(sqlstate_of([&] {
                  require_queue_privilege(other, no_grant, "mail", QueuePrivilege::produce, "enqueue into");
              }),
              "42501");
    EXPECT_EQ(sqlstate_of([&] {
                  require_queue_privilege(other, granted, "mail", QueuePrivilege::produce, "enqueue into");
              }),
              "none");
}

TEST(QueueManage, CreatorOrAdminOnly) {
    FakeCaller creator(kApp);
    FakeCaller other(kOther);
    FakeCaller admin(kOps, /*admin=*/true);
    EXPECT_EQ(sqlstate_of([&] { require_queue_manager(creator, kApp, "mail", "pause"); }), "none");
    EXPECT_EQ(sqlstate_of([&] { require_queue_manager(other, kApp, "mail", "pause"); }), "42501");
    EXPECT_EQ(sqlstate_of([&] { require_queue_manager(admin, kApp, "mail", "pause"); }), "none");
}

TEST(TaskActions, CancelOnlyUnfinished) {
    EXPECT_TRUE(decide_cancel(TaskState::pending, 1));
    EXPECT_TRUE(decide_cancel(TaskState::processing, 1));
    EXPECT_FALSE(decide_cancel(TaskState::complete, 1));
    EXPECT_FALSE(decide_cancel(TaskState::dead, 1));
    EXPECT_FALSE(decide_cancel(TaskState::cancelled, 1));
    EXPECT_EQ(sqlstate_of([] { decide_cancel(std::nullopt, 7); }), "42704");
    EXPECT_EQ(parse_task_state("cancelled"), TaskState::cancelled);
}

TEST(TaskActions, PermanentFailureAndBackoffCap) {
    TaskClaimState first{TaskState::processing, 5, 1, 5, kApp};
    EXPECT_EQ(decide_retry(first, 1000, std::nullopt, 0.5, /*retry=*/false).next, TaskState::dead);
    EXPECT_EQ(decide_retry(first, 1000, std::nullopt, 0.5).next, TaskState::pending);
    TaskClaimState late{TaskState::processing, 5, 12, 20, kApp};
    RetryDecision capped = decide_retry(late, 0, std::nullopt, 1.0, true, 2 * kMicrosPerSecond);
    EXPECT_EQ(capped.next, TaskState::pending);
    EXPECT_EQ(capped.run_at, 2 * kMicrosPerSecond);
    EXPECT_EQ(backoff_delay(12, 0.0, 2 * kMicrosPerSecond), kMicrosPerSecond);
}

TEST(TaskActions, SnoozeAndPurgeArguments) {
    EXPECT_EQ(require_run_in(IntervalParts{0, 0, 0}), 0);
    EXPECT_EQ(sqlstate_of([] { require_run_in(IntervalParts{0, 0, -1}); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_run_in(IntervalParts{0, 3651, 0}); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_run_in(std::nullopt); }), "22004");
    EXPECT_EQ(require_purge_state(std::string_view("dead")), TaskState::dead);
    EXPECT_EQ(require_purge_state(std::string_view("complete")), TaskState::complete);
    EXPECT_EQ(sqlstate_of([] { require_purge_state(std::string_view("processing")); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_purge_state(std::string_view("x")); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_purge_state(std::nullopt); }), "22004");
}
