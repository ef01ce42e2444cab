// Alert rules: raise what newly fires, resolve what stopped, never twice.
#include "core/alerts/alerts.hpp"
#include "core/common/error.hpp"

#include <gtest/gtest.h>

using namespace coord;

namespace {

std::string sqlstate_of(const std::vector<std::string_view>& firing, std::string_view kind = "k") {
    try {
        plan_alerts(kind, {}, firing);
    } catch (const Error& e) {
        return e.sqlstate();
    }
    return "none";
}

}  // namespace

TEST(Alerts, NothingOpenNothingFiring) {
    AlertPlan plan = plan_alerts("task_dead", {}, {});
    EXPECT_TRUE(plan.raise.empty());
    EXPECT_TRUE(plan.resolve.empty());
}

TEST(Alerts, NewConditionsAreRaised) {
    AlertPlan plan = plan_alerts("task_dead", {}, {"1", "2"});
    EXPECT_EQ(plan.raise, (std::vector<std::size_t>{0, 1}));
    EXPECT_TRUE(plan.resolve.empty());
}

TEST(Alerts, StillFiringRaisesNothingNew) {
    AlertPlan plan = plan_alerts("task_dead", {"1", "2"}, {"2", "1"});
    EXPECT_TRUE(plan.raise.empty());
    EXPECT_TRUE(plan.resolve.empty());
}

TEST(Alerts, EndedConditionsAreResolved) {
    AlertPlan plan = plan_alerts("task_dead", {"1", "2", "3"}, {"2", "4"});
    EXPECT_EQ(plan.raise, (std::vector<std::size_t>{1}));
    EXPECT_EQ(plan.resolve, (std::vector<std::string>{"1", "3"}));
}

TEST(Alerts, NothingFiringResolvesAll) {
    AlertPlan plan = plan_alerts("task_dead", {"a", "b"}, {});
    EXPECT_TRUE(plan.raise.empty());
    EXPECT_EQ(plan.resolve, (std::vector<std::string>{"a", "b"}));
}

TEST(Alerts, DuplicateFiringSubjectIsRaisedOnce) {
    AlertPlan plan = plan_alerts("task_dead", {}, {"x", "y", "x"});
    EXPECT_EQ(plan.raise, (std::vector<std::size_t>{0, 1}));
}

TEST(Alerts, BadKindOrSubjectIsRejected) {
    EXPECT_EQ(sqlstate_of({"ok"}, ""), "22023");
    EXPECT_EQ(sqlstate_of({""}), "22023");
    EXPECT_EQ(sqlstate_of({std::string_view(std::string(kMaxAlertSubjectBytes + 1, 's'))}), "22023");
    EXPECT_EQ(sqlstate_of({std::string(kMaxAlertSubjectBytes, 's')}), "none");
    EXPECT_EQ(sqlstate_of({"ok"}, std::string(kMaxAlertKindBytes + 1, 'k')), "22023");
}
