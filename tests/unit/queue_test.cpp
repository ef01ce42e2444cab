// Explicit queues: argument checks, 42704 for a missing queue, who may use
// and manage a queue (core/queue/queue.hpp).
#include "core/common/error.hpp"
#include "core/queue/queue.hpp"

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
