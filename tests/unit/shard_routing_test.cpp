// Routing per phase, version-aware reads and the stale-route rule.
#include "core/common/error.hpp"
#include "core/shards/shard_routing.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

using namespace coord;
using Nodes = std::vector<std::string>;

namespace {

Placement at(std::optional<Phase> phase) {
    if (!phase) return {std::nullopt, "old", ""};
    return {phase, "old", "new"};
}

const std::optional<Phase> kRoutePhases[] = {std::nullopt,      Phase::copying,
                                             Phase::dual_write, Phase::cutover,
                                             Phase::complete,   Phase::rolled_back};

}  // namespace

TEST(ShardRouting, PhaseNames) {
    EXPECT_EQ(route_phase_name(std::nullopt), "stable");
    EXPECT_EQ(route_phase_name(Phase::cutover), "cutover");
}

TEST(ShardRouting, WriteNodesPerPhase) {
    EXPECT_EQ(write_nodes(at(std::nullopt)), (Nodes{"old"}));
    EXPECT_EQ(write_nodes(at(Phase::copying)), (Nodes{"old"}));
    EXPECT_EQ(write_nodes(at(Phase::dual_write)), (Nodes{"old", "new"}));
    EXPECT_EQ(write_nodes(at(Phase::cutover)), (Nodes{"new"}));
    EXPECT_EQ(write_nodes(at(Phase::complete)), (Nodes{"new"}));
    EXPECT_EQ(write_nodes(at(Phase::rolled_back)), (Nodes{"old"}));
}

TEST(ShardRouting, ReadCandidatesPerPhase) {
    EXPECT_EQ(read_candidates(at(std::nullopt)), (Nodes{"old"}));
    EXPECT_EQ(read_candidates(at(Phase::copying)), (Nodes{"old"}));
    EXPECT_EQ(read_candidates(at(Phase::dual_write)), (Nodes{"old", "new"}));
    EXPECT_EQ(read_candidates(at(Phase::cutover)), (Nodes{"new", "old"}));
    EXPECT_EQ(read_candidates(at(Phase::complete)), (Nodes{"new"}));
    EXPECT_EQ(read_candidates(at(Phase::rolled_back)), (Nodes{"old"}));
}

// Without min_version the preferred node, whatever the watermarks say.
TEST(ShardRouting, ReadNodeWithoutMinVersion) {
    std::vector<NodeWatermark> none;
    std::vector<NodeWatermark> target_ahead{{"old", 40}, {"new", 42}};
    const char* want[] = {"old", "old", "old", "new", "new", "old"};
    int i = 0;
    for (auto phase : kRoutePhases) {
        SCOPED_TRACE(std::string(route_phase_name(phase)));
        EXPECT_EQ(read_node(at(phase), std::nullopt, none), want[i]);
        EXPECT_EQ(read_node(at(phase), std::nullopt, target_ahead), want[i]);
        ++i;
    }
}

// Every phase x the four watermark situations, client has seen version 42.
TEST(ShardRouting, ReadNodeWithMinVersionEveryPhase) {
    struct Case {
        const char* name;
        std::vector<NodeWatermark> marks;
        // expected read_node per phase (stable, copying, dual_write, cutover, complete, rolled_back)
        std::optional<std::string> want[6];
    };
    const std::optional<std::string> N;  // no node has caught up
    Case cases[] = {
        {"both caught up", {{"old", 42}, {"new", 50}}, {"old", "old", "old", "new", "new", "old"}},
        {"only old caught up", {{"old", 42}, {"new", 41}}, {"old", "old", "old", "old", N, "old"}},
        {"only new caught up", {{"old", 40}, {"new", 42}}, {N, N, "new", "new", "new", N}},
        {"nobody caught up", {{"old", 41}, {"new", 40}}, {N, N, N, N, N, N}},
        {"never reported", {}, {N, N, N, N, N, N}},
        {"new never reported", {{"old", 43}, {"new", std::nullopt}},
         {"old", "old", "old", "old", N, "old"}},
    };
    for (const Case& c : cases) {
        int i = 0;
        for (auto phase : kRoutePhases) {
            SCOPED_TRACE(std::string(c.name) + " / " + std::string(route_phase_name(phase)));
            EXPECT_EQ(read_node(at(phase), 42, c.marks), c.want[i]);
            ++i;
        }
    }
}

// The story's rule: a client that read version 42 from the target is never
// routed to the source that is at 40, in any phase.
TEST(ShardRouting, NeverRoutesBehindTheClient) {
    std::vector<NodeWatermark> marks{{"old", 40}, {"new", 42}};
    for (auto phase : kRoutePhases)
        for (Version seen = 41; seen <= 43; ++seen) {
            auto node = read_node(at(phase), seen, marks);
            if (node) {
                auto it = std::find_if(marks.begin(), marks.end(),
                                       [&](const NodeWatermark& w) { return w.node == *node; });
                ASSERT_NE(it, marks.end());
                EXPECT_GE(*it->applied, seen);
            }
        }
    EXPECT_EQ(read_node(at(Phase::dual_write), 0, {{"old", 0}}), "old");  // version 0 counts
}

TEST(ShardRouting, WritesDifferAsSets) {
    EXPECT_FALSE(writes_differ({"a"}, {"a"}));
    EXPECT_FALSE(writes_differ({"a", "b"}, {"b", "a"}));
    EXPECT_TRUE(writes_differ({"a"}, {"a", "b"}));
    EXPECT_TRUE(writes_differ({"a"}, {"b"}));
    EXPECT_TRUE(writes_differ({}, {"b"}));
}

// check_route for every (epoch's phase, current phase) pair of one migration
// history: PC004 exactly when an older epoch's writes went elsewhere.
TEST(ShardRouting, CheckRouteEveryPhasePair) {
    const std::optional<Phase> history[] = {std::nullopt, Phase::copying, Phase::dual_write,
                                            Phase::cutover, Phase::complete};
    for (int given = 0; given < 5; ++given)
        for (int current = 0; current < 5; ++current) {
            SCOPED_TRACE(std::to_string(given) + " -> " + std::to_string(current));
            Nodes g = write_nodes(at(history[given])), c = write_nodes(at(history[current]));
            std::string want = given > current  ? "22023"
                               : given == current ? "none"
                               : writes_differ(g, c) ? "PC004"
                                                     : "none";
            EXPECT_EQ(sqlstate_of([&] { check_route("s", given + 1, g, current + 1, c); }), want);
        }
    // Spelled out: stable/copying both write to old only; dual_write adds new.
    EXPECT_EQ(sqlstate_of([] { check_route("s", 1, {"old"}, 2, {"old"}); }), "none");
    EXPECT_EQ(sqlstate_of([] { check_route("s", 2, {"old"}, 3, {"old", "new"}); }), "PC004");
    EXPECT_EQ(sqlstate_of([] { check_route("s", 3, {"old", "new"}, 4, {"new"}); }), "PC004");
    EXPECT_EQ(sqlstate_of([] { check_route("s", 4, {"new"}, 5, {"new"}); }), "none");
    // After a rollback the copying-epoch writer (old only) is fine again,
    // the dual_write-epoch writer is not.
    EXPECT_EQ(sqlstate_of([] { check_route("s", 2, {"old"}, 4, {"old"}); }), "none");
    EXPECT_EQ(sqlstate_of([] { check_route("s", 3, {"old", "new"}, 4, {"old"}); }), "PC004");
}

TEST(ShardRouting, CheckRouteMessage) {
    try {
        check_route("shard-5", 3, {"old", "new"}, 4, {"new"});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.sqlstate(), "PC004");
        EXPECT_EQ(std::string(e.what()),
                  "stale route for shard \"shard-5\": epoch 3 is older than current epoch 4");
        EXPECT_EQ(e.detail(), "Epoch 3 writes to {old, new}; epoch 4 writes to {new}.");
    }
}

TEST(ShardRouting, ArgumentRules) {
    EXPECT_EQ(require_version(0, "version"), 0);
    EXPECT_EQ(sqlstate_of([] { require_version(-1, "version"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_version(std::nullopt, "version"); }), "22004");
    EXPECT_EQ(require_epoch(1, "epoch"), 1);
    EXPECT_EQ(sqlstate_of([] { require_epoch(0, "epoch"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_epoch(std::nullopt, "epoch"); }), "22004");
}
