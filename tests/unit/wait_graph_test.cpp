// Wait-for graph among owners: cycle search and the victim rule.
#include "core/waiting/wait_graph.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>

using namespace coord;

namespace {

std::uint64_t next_request = 1;

WaitEdge held(const std::string& waiter, const std::string& name, const std::string& holder,
              std::uint64_t request = 0) {
    return WaitEdge{waiter, name, holder, WaitEdge::Kind::held,
                    request ? request : next_request++, 0, {}, {}};
}

WaitEdge queued(const std::string& waiter, const std::string& name, const std::string& ahead,
                std::uint64_t request) {
    return WaitEdge{waiter, name, ahead, WaitEdge::Kind::queued, request, 0, {}, {}};
}

// A cycle is well formed: consecutive edges chain and the last one closes it.
void expect_closed(const WaitCycle& c) {
    ASSERT_FALSE(c.edges.empty());
    for (std::size_t i = 0; i < c.edges.size(); ++i)
        EXPECT_EQ(c.edges[i].holder, c.edges[(i + 1) % c.edges.size()].waiter);
}

std::set<std::string> owners_of(const WaitCycle& c) {
    std::set<std::string> out;
    for (const auto& e : c.edges) out.insert(e.waiter);
    return out;
}

}  // namespace

TEST(WaitGraph, EmptyGraphHasNoCycle) {
    WaitGraph g;
    EXPECT_FALSE(g.find_any_cycle());
    EXPECT_FALSE(g.find_cycle_through("w1"));
}

TEST(WaitGraph, ChainAndDiamondHaveNoCycle) {
    WaitGraph g;
    g.add_edge(held("a", "r1", "b"));
    g.add_edge(held("b", "r2", "c"));
    g.add_edge(held("a", "r3", "d"));
    g.add_edge(held("d", "r4", "c"));  // two paths a -> c, still acyclic
    EXPECT_FALSE(g.find_any_cycle());
    for (const char* o : {"a", "b", "c", "d", "unknown"}) EXPECT_FALSE(g.find_cycle_through(o)) << o;
}

TEST(WaitGraph, TwoOwnerCycleIsFoundFromEitherSideInOrder) {
    WaitGraph g;
    g.add_edge(held("w1", "db-02", "w2", 10));
    g.add_edge(held("w2", "db-01", "w1", 11));
    auto c = g.find_cycle_through("w1");
    ASSERT_TRUE(c);
    expect_closed(*c);
    ASSERT_EQ(c->edges.size(), 2u);
    EXPECT_EQ(c->edges[0].waiter, "w1");
    EXPECT_EQ(c->edges[0].name, "db-02");
    EXPECT_EQ(c->edges[1].waiter, "w2");
    EXPECT_EQ(describe_cycle(*c),
              "\"w1\" waits for \"db-02\" held by \"w2\" -> \"w2\" waits for \"db-01\" held by \"w1\"");
    auto from_w2 = g.find_cycle_through("w2");
    ASSERT_TRUE(from_w2);
    EXPECT_EQ(from_w2->edges[0].waiter, "w2");
    ASSERT_TRUE(g.find_any_cycle());
}

TEST(WaitGraph, OwnerOutsideTheCycleHasNoCycleThroughIt) {
    WaitGraph g;
    g.add_edge(held("x", "r0", "a"));  // x waits into the cycle but is not on it
    g.add_edge(held("a", "r1", "b"));
    g.add_edge(held("b", "r2", "a"));
    EXPECT_FALSE(g.find_cycle_through("x"));
    auto c = g.find_any_cycle();
    ASSERT_TRUE(c);
    expect_closed(*c);
    EXPECT_EQ(owners_of(*c), (std::set<std::string>{"a", "b"}));
}

TEST(WaitGraph, SelfLoopIsACycleOfOneEdge) {
    WaitGraph g;
    g.add_edge(held("a", "r1", "b"));
    g.add_edge(held("b", "r2", "b"));
    auto c = g.find_cycle_through("b");
    ASSERT_TRUE(c);
    ASSERT_EQ(c->edges.size(), 1u);
    EXPECT_EQ(c->edges[0].name, "r2");
    EXPECT_FALSE(g.find_cycle_through("a"));
    auto any = g.find_any_cycle();
    ASSERT_TRUE(any);
    EXPECT_EQ(any->edges.size(), 1u);
    EXPECT_EQ(choose_victim(*any).reason, "the only wait in the cycle");
}

TEST(WaitGraph, ThreeOwnerCycleWithQueueEdge) {
    WaitGraph g;
    g.add_edge(held("o1", "A", "o2", 1));
    g.add_edge(held("o2", "B", "o3", 2));
    g.add_edge(queued("o3", "C", "o1", 3));  // o3 is queued behind o1 for C
    auto c = g.find_cycle_through("o2");
    ASSERT_TRUE(c);
    expect_closed(*c);
    ASSERT_EQ(c->edges.size(), 3u);
    EXPECT_EQ(c->edges[0].waiter, "o2");
    EXPECT_EQ(c->edges[1].kind, WaitEdge::Kind::queued);  // o2 -> o3 -> o1 -> o2
    EXPECT_NE(describe_cycle(*c).find("\"o3\" waits for \"C\" queued behind \"o1\""), std::string::npos);
}

TEST(WaitGraph, SeveralCyclesAreAllBroken) {
    WaitGraph g;
    // Cycle 1: a <-> b. Cycle 2: c -> d -> e -> c. Cycle 3 shares node a: a -> f -> a.
    g.add_edge(held("a", "r1", "b", 1));
    g.add_edge(held("b", "r2", "a", 2));
    g.add_edge(held("c", "r3", "d", 3));
    g.add_edge(held("d", "r4", "e", 4));
    g.add_edge(held("e", "r5", "c", 5));
    g.add_edge(held("a", "r6", "f", 6));
    g.add_edge(held("f", "r7", "a", 7));
    g.add_edge(held("z", "r8", "a", 8));  // not on any cycle
    auto broken = break_all_cycles(g);
    ASSERT_EQ(broken.size(), 3u);
    std::set<std::uint64_t> victims;
    for (const auto& b : broken) {
        expect_closed(b.cycle);
        victims.insert(b.victim.request);
    }
    // The youngest wait of each cycle: b (2), e (5), f (7).
    EXPECT_EQ(victims, (std::set<std::uint64_t>{2, 5, 7}));
    // The original graph is untouched (passed by value).
    EXPECT_TRUE(g.find_any_cycle());
}

TEST(WaitGraph, RemovingARequestRemovesAllItsEdges) {
    WaitGraph g;
    g.add_edge(held("a", "r1", "b", 1));
    g.add_edge(held("b", "r2", "a", 2));
    g.add_edge(held("b", "r3", "a", 2));  // one acquire_all request, two names
    g.remove_request(2);
    EXPECT_FALSE(g.find_any_cycle());
    EXPECT_FALSE(g.find_cycle_through("a"));
}

TEST(VictimRule, YoungestWaitInTheCycle) {
    WaitCycle c;
    c.edges = {held("w1", "A", "w2", 7), held("w2", "B", "w3", 9), held("w3", "C", "w1", 8)};
    VictimChoice v = choose_victim(c);
    EXPECT_EQ(v.edge, 1u);
    EXPECT_EQ(v.request, 9u);
    EXPECT_NE(v.reason.find("youngest wait"), std::string::npos);
    EXPECT_NE(v.reason.find("\"w2\""), std::string::npos);
}

TEST(VictimRule, CycleIsReportedFromTheVictimWhoeverFoundIt) {
    WaitGraph g;
    g.add_edge(held("a", "X", "b", 1));
    g.add_edge(held("b", "Y", "c", 3));
    g.add_edge(held("c", "Z", "a", 2));
    std::set<std::string> texts;
    for (const char* start : {"a", "b", "c"}) {
        auto c = g.find_cycle_through(start);
        ASSERT_TRUE(c);
        texts.insert(describe_cycle(rotate_cycle(*c, choose_victim(*c).edge)));
    }
    ASSERT_EQ(texts.size(), 1u);
    EXPECT_EQ(*texts.begin(),
              "\"b\" waits for \"Y\" held by \"c\" -> \"c\" waits for \"Z\" held by \"a\" -> "
              "\"a\" waits for \"X\" held by \"b\"");
}

TEST(VictimRule, TieGoesToTheFirstEdgeOfTheRequest) {
    WaitCycle c;
    c.edges = {held("w1", "A", "w2", 3), held("w2", "B", "w1", 3)};
    EXPECT_EQ(choose_victim(c).edge, 0u);
}

TEST(WaitGraph, JsonIsEscaped) {
    WaitCycle c;
    c.edges = {held("w\"1", "a\\b", "w2", 1), queued("w2", "n", "w\"1", 2)};
    EXPECT_EQ(cycle_json(c),
              R"([{"waiter":"w\"1","name":"a\\b","holder":"w2","edge":"held"},)"
              R"({"waiter":"w2","name":"n","holder":"w\"1","edge":"queued"}])");
}

TEST(WaitGraph, TenThousandNodesOneLongCycle) {
    // A chain of 10 000 owners closed into one cycle, plus 10 000 acyclic
    // side edges: iterative search, no stack overflow, and fast.
    constexpr int n = 10'000;
    WaitGraph g;
    for (int i = 0; i < n; ++i)
        g.add_edge(held("o" + std::to_string(i), "r" + std::to_string(i),
                        "o" + std::to_string((i + 1) % n), static_cast<std::uint64_t>(i + 1)));
    for (int i = 0; i < n; ++i)
        g.add_edge(held("o" + std::to_string(i), "s" + std::to_string(i), "leaf" + std::to_string(i),
                        static_cast<std::uint64_t>(n + i + 1)));
    EXPECT_EQ(g.node_count(), 2u * n);
    auto t0 = std::chrono::steady_clock::now();
    auto c = g.find_cycle_through("o0");
    auto any = g.find_any_cycle();
    auto elapsed = std::chrono::steady_clock::now() - t0;
    ASSERT_TRUE(c);
    ASSERT_TRUE(any);
    EXPECT_EQ(c->edges.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(any->edges.size(), static_cast<std::size_t>(n));
    expect_closed(*c);
    EXPECT_EQ(choose_victim(*c).request, static_cast<std::uint64_t>(n));  // youngest: o9999's wait
    EXPECT_LT(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count(), 5);
}

TEST(WaitGraph, TenThousandNodesNoCycle) {
    constexpr int n = 10'000;
    WaitGraph g;
    // A binary-tree-shaped DAG: every node waits for two later ones.
    for (int i = 0; i < n; ++i) {
        if (2 * i + 1 < n) g.add_edge(held("o" + std::to_string(i), "l", "o" + std::to_string(2 * i + 1)));
        if (2 * i + 2 < n) g.add_edge(held("o" + std::to_string(i), "r", "o" + std::to_string(2 * i + 2)));
    }
    EXPECT_FALSE(g.find_any_cycle());
    EXPECT_FALSE(g.find_cycle_through("o0"));
    EXPECT_TRUE(break_all_cycles(g).empty());
}
