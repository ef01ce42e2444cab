// Who may act on a holding and who may read another role's records.
#include "core/common/error.hpp"
#include "core/common/roles.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

using namespace coord;

TEST(MayActOn, OnlyTheSameRoleOrAnAdministrator) {
    FakeCaller me{kApp};
    EXPECT_TRUE(may_act_on(me, kApp));
    EXPECT_EQ(me.admin_asked, 0);  // the common case costs no look-up
    EXPECT_FALSE(may_act_on(me, kOther));
    FakeCaller member{kOther};
    member.inherits.insert(kApp);
    EXPECT_FALSE(may_act_on(member, kApp));  // privileges of a role are not its holdings
    EXPECT_EQ(member.privileges_asked, 0);
    FakeCaller ops{kOps, /*admin=*/true};
    EXPECT_TRUE(may_act_on(ops, kApp));
}

TEST(MayRead, TheRoleItsMembersAndAdministrators) {
    FakeCaller me{kApp};
    EXPECT_TRUE(may_read(me, kApp));
    EXPECT_EQ(me.admin_asked + me.privileges_asked, 0);
    EXPECT_FALSE(may_read(me, kOther));
    FakeCaller member{kOther};
    member.inherits.insert(kApp);
    EXPECT_TRUE(may_read(member, kApp));
    FakeCaller ops{kOps, /*admin=*/true};
    EXPECT_TRUE(may_read(ops, kOther));
}

TEST(RequireMayAct, RefusalSaysWhoAndWhy) {
    FakeCaller other{kOther};
    try {
        require_may_act(other, "settle", RoleBound{"ledger entry 3", "was posted by", kApp});
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.sqlstate(), "42501");
        EXPECT_STREQ(e.what(), "permission denied to settle ledger entry 3");
        EXPECT_EQ(e.detail(), "Ledger entry 3 was posted by role \"app\"; this call runs as role \"other\".");
        EXPECT_EQ(e.hint(), "Call it as that role, or as a member of coord_admin: owner strings and "
                            "tokens identify a holding, they are not credentials.");
    }
    EXPECT_NO_THROW(require_may_act(other, "settle", RoleBound{"ledger entry 3", "was posted by", kOther}));
}

TEST(RequireMayRead, RefusalSaysWhichPrivilegeIsMissing) {
    FakeCaller other{kOther};
    try {
        require_may_read(other, RoleBound{"task 9", "was enqueued by", 777});
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "permission denied to read task 9");
        EXPECT_EQ(e.detail(), "Task 9 was enqueued by a dropped role (OID 777); this call runs as role \"other\".");
        EXPECT_EQ(e.hint(), "Reading it needs the privileges of the role it belongs to (that role, or "
                            "a member that inherits from it) or of coord_admin.");
    }
}
