// The migration phase machine: every (phase, request) pair.
#include "core/common/error.hpp"
#include "core/shards/shard_phase.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

using namespace coord;

namespace {

struct Outcome {
    std::string sqlstate;  // "" when allowed
    std::string message;
    std::string detail;
    std::optional<Phase> phase;
};

Outcome run(const std::function<Phase()>& f) {
    try {
        return {"", "", "", f()};
    } catch (const Error& e) {
        return {e.sqlstate(), e.what(), e.detail(), std::nullopt};
    }
}

// The requests a caller can make of a migration.
const char* const kRequests[] = {"advance:copying", "advance:dual_write", "advance:cutover",
                                 "advance:complete", "advance:rolled_back", "advance:bogus",
                                 "rollback"};

Outcome request(Phase current, const std::string& req) {
    if (req == "rollback") return run([&] { return decide_rollback(7, current); });
    std::string wanted = req.substr(std::string("advance:").size());
    return run([&] { return decide_advance(7, current, wanted); });
}

// The only allowed (phase, request) pairs and where they lead.
std::optional<Phase> expected(Phase current, const std::string& req) {
    if (req == "rollback")
        return phase_is_active(current) ? std::optional<Phase>(Phase::rolled_back) : std::nullopt;
    if (current == Phase::copying && req == "advance:dual_write") return Phase::dual_write;
    if (current == Phase::dual_write && req == "advance:cutover") return Phase::cutover;
    if (current == Phase::cutover && req == "advance:complete") return Phase::complete;
    return std::nullopt;
}

}  // namespace

TEST(ShardPhase, NamesRoundTrip) {
    for (Phase p : kAllPhases) EXPECT_EQ(parse_phase(phase_name(p)), p);
    EXPECT_EQ(parse_phase("stable"), std::nullopt);
    EXPECT_EQ(parse_phase("Copying"), std::nullopt);
    EXPECT_EQ(parse_phase(""), std::nullopt);
}

TEST(ShardPhase, ActivePhases) {
    EXPECT_TRUE(phase_is_active(Phase::copying));
    EXPECT_TRUE(phase_is_active(Phase::dual_write));
    EXPECT_TRUE(phase_is_active(Phase::cutover));
    EXPECT_FALSE(phase_is_active(Phase::complete));
    EXPECT_FALSE(phase_is_active(Phase::rolled_back));
}

TEST(ShardPhase, AllowedRequestsPerPhase) {
    using V = std::vector<std::string_view>;
    EXPECT_EQ(allowed_requests(Phase::copying), (V{"dual_write", "rolled_back"}));
    EXPECT_EQ(allowed_requests(Phase::dual_write), (V{"cutover", "rolled_back"}));
    EXPECT_EQ(allowed_requests(Phase::cutover), (V{"complete", "rolled_back"}));
    EXPECT_EQ(allowed_requests(Phase::complete), V{});
    EXPECT_EQ(allowed_requests(Phase::rolled_back), V{});
}

// Every phase x every request: allowed ones lead to the right phase, the
// rest raise PC003 naming the current phase and the allowed next ones (or
// 22023 for a name that is no phase at all).
TEST(ShardPhase, EveryPhaseAndRequest) {
    int allowed = 0;
    for (Phase current : kAllPhases) {
        for (const char* req : kRequests) {
            SCOPED_TRACE(std::string(phase_name(current)) + " / " + req);
            Outcome got = request(current, req);
            std::optional<Phase> want = expected(current, req);
            if (want) {
                ++allowed;
                EXPECT_EQ(got.sqlstate, "");
                EXPECT_EQ(got.phase, want);
                continue;
            }
            if (std::string(req) == "advance:bogus") {
                EXPECT_EQ(got.sqlstate, "22023");
                EXPECT_NE(got.message.find("\"bogus\" is not a migration phase"), std::string::npos);
                continue;
            }
            EXPECT_EQ(got.sqlstate, "PC003");
            EXPECT_NE(got.message.find("migration 7"), std::string::npos) << got.message;
            EXPECT_NE(got.message.find(std::string("\"") + std::string(phase_name(current)) + "\""),
                      std::string::npos)
                << got.message;
            for (std::string_view next : allowed_requests(current)) {
                EXPECT_NE(got.detail.find(std::string("\"") + std::string(next) + "\""),
                          std::string::npos)
                    << got.detail;
            }
            if (!phase_is_active(current)) {
                EXPECT_NE(got.detail.find("final"), std::string::npos) << got.detail;
            }
        }
    }
    EXPECT_EQ(allowed, 6);  // 3 forward steps + 3 rollbacks
}

TEST(ShardPhase, MessagesSpellOutTheRule) {
    Outcome o = request(Phase::copying, "advance:cutover");
    EXPECT_EQ(o.message, "migration 7 cannot move from \"copying\" to \"cutover\"");
    EXPECT_EQ(o.detail,
              "From \"copying\" the allowed next phases are \"dual_write\" "
              "(coord.migration_advance) and \"rolled_back\" (coord.migration_rollback).");
    Outcome r = request(Phase::complete, "rollback");
    EXPECT_EQ(r.message, "migration 7 cannot be rolled back from \"complete\"");
    EXPECT_EQ(r.detail,
              "\"complete\" is final: the shard now lives on the target; no phase may follow.");
}

TEST(ShardPhase, AdvanceToRolledBackPointsAtRollback) {
    try {
        decide_advance(3, Phase::dual_write, "rolled_back");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.sqlstate(), "PC003");
        EXPECT_NE(e.hint().find("coord.migration_rollback"), std::string::npos);
    }
}

// A second concurrent advance re-reads the winner's phase and asks for the
// same step again: it is refused, not repeated.
TEST(ShardPhase, RepeatingAStepIsRefused) {
    EXPECT_EQ(request(Phase::dual_write, "advance:dual_write").sqlstate, "PC003");
    EXPECT_EQ(request(Phase::rolled_back, "rollback").sqlstate, "PC003");
}

TEST(ShardPhase, StartOnlyWithoutAnActiveMigration) {
    EXPECT_NO_THROW(check_can_start("s", std::nullopt, std::nullopt));
    EXPECT_NO_THROW(check_can_start("s", 1, Phase::complete));
    EXPECT_NO_THROW(check_can_start("s", 1, Phase::rolled_back));
    for (Phase p : {Phase::copying, Phase::dual_write, Phase::cutover}) {
        try {
            check_can_start("shard-5", 4, p);
            FAIL() << "no error";
        } catch (const Error& e) {
            EXPECT_STREQ(e.sqlstate(), "PC003");
            EXPECT_EQ(std::string(e.what()),
                      "shard \"shard-5\" already has an active migration (4, phase \"" +
                          std::string(phase_name(p)) + "\")");
        }
    }
}
