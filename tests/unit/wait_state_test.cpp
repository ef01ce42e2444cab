// Who can make progress among waiting sessions, and the cycles among those
// that cannot (wait_state.hpp): the rule in the README's two examples.
#include "core/waiting/wait_state.hpp"

#include <gtest/gtest.h>

using namespace coord;

namespace {

using Target = WaitState::Target;

std::size_t waiting(WaitState& st, const std::string& owner, std::uint64_t request) {
    st.sessions.push_back({true, owner, request, 0});
    return st.sessions.size() - 1;
}
std::size_t idle(WaitState& st) {
    st.sessions.push_back({false, "", 0, 0});
    return st.sessions.size() - 1;
}
std::size_t owner(WaitState& st, const std::string& name, std::vector<std::size_t> sessions) {
    st.owners.push_back({name, std::move(sessions)});
    return st.owners.size() - 1;
}
void held_by_session(WaitState& st, std::size_t w, const std::string& name, std::size_t s,
                     const std::string& label) {
    st.blocks.push_back({w, name, WaitEdge::Kind::held, Target::session, s, label});
}
void held_by_owner(WaitState& st, std::size_t w, const std::string& name, std::size_t o) {
    st.blocks.push_back({w, name, WaitEdge::Kind::held, Target::owner, o, st.owners[o].name});
}

}  // namespace

// README example 1: A: BEGIN; acquire X2; acquire Y2 (waits) -- B the mirror
// image. Both holdings are uncommitted: each waits for the other's session.
TEST(WaitState, ExplicitTransactionDeadlockIsACycleOfSessions) {
    WaitState st;
    std::size_t a = waiting(st, "A", 10);
    std::size_t b = waiting(st, "B", 11);
    held_by_session(st, a, "Y2", b, "B");
    held_by_session(st, b, "X2", a, "A");
    std::vector<bool> p = sessions_progressing(st);
    EXPECT_FALSE(p[a]);
    EXPECT_FALSE(p[b]);
    auto cycle = stuck_graph(st).find_cycle_through(vertex_key(a));
    ASSERT_TRUE(cycle);
    ASSERT_EQ(cycle->edges.size(), 2u);
    EXPECT_EQ(describe_cycle(*cycle), "\"A\" waits for \"Y2\" held by \"B\" -> \"B\" waits for \"X2\" held by \"A\"");
    auto broken = break_stuck_cycles(st);
    ASSERT_EQ(broken.size(), 1u);
    EXPECT_EQ(broken[0].victim.request, 11u);  // the youngest wait
}

// README example 2: S0 holds FX as inst-A and is not waiting; a session of
// inst-B waits for FX, one of inst-A for FY (held by inst-B). Owner strings
// form a cycle, sessions do not: S0 can release FX.
TEST(WaitState, MultiSessionOwnerIsNotADeadlock) {
    WaitState st;
    std::size_t s0 = idle(st);
    std::size_t b1 = waiting(st, "inst-B", 10);
    std::size_t a2 = waiting(st, "inst-A", 11);
    std::size_t inst_a = owner(st, "inst-A", {s0, a2});
    std::size_t inst_b = owner(st, "inst-B", {b1});
    held_by_owner(st, b1, "FX", inst_a);
    held_by_owner(st, a2, "FY", inst_b);
    std::vector<bool> p = sessions_progressing(st);
    EXPECT_TRUE(p[b1]);
    EXPECT_TRUE(p[a2]);
    EXPECT_FALSE(stuck_graph(st).find_any_cycle());
    EXPECT_TRUE(break_stuck_cycles(st).empty());
}

// The same with no idle session of inst-A: every session of both owners
// waits, so it is a deadlock, and the cycle names the owners.
TEST(WaitState, OwnersWhoseSessionsAllWaitAreADeadlock) {
    WaitState st;
    std::size_t b1 = waiting(st, "inst-B", 10);
    std::size_t a2 = waiting(st, "inst-A", 11);
    std::size_t inst_a = owner(st, "inst-A", {a2});
    std::size_t inst_b = owner(st, "inst-B", {b1});
    held_by_owner(st, b1, "FX", inst_a);
    held_by_owner(st, a2, "FY", inst_b);
    auto broken = break_stuck_cycles(st);
    ASSERT_EQ(broken.size(), 1u);
    EXPECT_EQ(broken[0].victim.request, 11u);
    EXPECT_EQ(describe_cycle(rotate_cycle(broken[0].cycle, broken[0].victim.edge)),
              "\"inst-A\" waits for \"FY\" held by \"inst-B\" -> \"inst-B\" waits for \"FX\" held by \"inst-A\"");
}

// An owner with no live session at all can make progress (a new session may
// release, or the ttl ends the holding): no deadlock through it.
TEST(WaitState, OwnerWithoutSessionsProgresses) {
    WaitState st;
    std::size_t a = waiting(st, "A", 10);
    std::size_t gone = owner(st, "gone", {});
    held_by_owner(st, a, "X", gone);
    EXPECT_TRUE(sessions_progressing(st)[a]);
}

// Behind a pooler in transaction mode: the server connection that took
// "pool:1" as c1 (committed) now serves c3, which waits for "pool:1". No
// session waits as c1 (its client is outside, free to release through any
// connection): nothing is stuck, no cycle of that connection with itself.
TEST(WaitState, PooledConnectionWaitingAsAnotherOwnerIsNotADeadlock) {
    WaitState st;
    std::size_t conn = waiting(st, "c3", 10);
    std::size_t c1 = owner(st, "c1", {conn});
    held_by_owner(st, conn, "pool:1", c1);
    EXPECT_TRUE(sessions_progressing(st)[conn]);
    EXPECT_FALSE(stuck_graph(st).find_any_cycle());
    EXPECT_TRUE(break_stuck_cycles(st).empty());
}

// The same connection waiting as c1 itself (no pooler: the holder's only
// session waits behind its own holding's owner) stays stuck.
TEST(WaitState, SessionWaitingAsTheHoldingOwnerStaysStuck) {
    WaitState st;
    std::size_t a = waiting(st, "A", 10);
    std::size_t b = waiting(st, "B", 11);
    std::size_t owner_a = owner(st, "A", {a});
    std::size_t owner_b = owner(st, "B", {b});
    held_by_owner(st, a, "Y2", owner_b);
    held_by_owner(st, b, "X2", owner_a);
    std::vector<bool> p = sessions_progressing(st);
    EXPECT_FALSE(p[a]);
    EXPECT_FALSE(p[b]);
    EXPECT_EQ(break_stuck_cycles(st).size(), 1u);
}

// Three parties, committed and uncommitted holdings mixed: A holds X
// committed and waits for Y, which B's open transaction took; B waits for Z,
// held committed by C; C waits for X.
TEST(WaitState, ThreePartyMixedCycle) {
    WaitState st;
    std::size_t a = waiting(st, "A", 10);
    std::size_t b = waiting(st, "B", 11);
    std::size_t c = waiting(st, "C", 12);
    std::size_t oa = owner(st, "A", {a});
    std::size_t oc = owner(st, "C", {c});
    held_by_session(st, a, "Y", b, "B");
    held_by_owner(st, b, "Z", oc);
    held_by_owner(st, c, "X", oa);
    auto cycle = stuck_graph(st).find_cycle_through(vertex_key(b));
    ASSERT_TRUE(cycle);
    EXPECT_EQ(cycle->edges.size(), 3u);
    auto broken = break_stuck_cycles(st);
    ASSERT_EQ(broken.size(), 1u);
    EXPECT_EQ(broken[0].victim.request, 12u);
}

// A session blocked behind a cycle is stuck but not in it: only the cycle is
// broken, and once its victim is cancelled the rest is decided again.
TEST(WaitState, BlockedBehindACycleIsNotReportedAndVictimUnblocks) {
    WaitState st;
    std::size_t a = waiting(st, "A", 10);
    std::size_t b = waiting(st, "B", 11);
    std::size_t d = waiting(st, "D", 12);
    held_by_session(st, a, "Y", b, "B");
    held_by_session(st, b, "X", a, "A");
    st.blocks.push_back({d, "X", WaitEdge::Kind::queued, Target::session, b, "B"});
    std::vector<bool> p = sessions_progressing(st);
    EXPECT_FALSE(p[d]);
    EXPECT_FALSE(stuck_graph(st).find_cycle_through(vertex_key(d)));
    auto broken = break_stuck_cycles(st);
    ASSERT_EQ(broken.size(), 1u);
    EXPECT_EQ(broken[0].victim.request, 11u);
}

// Two cycles through one owner with two sessions: breaking the first (its
// victim is one of the owner's sessions) lets the owner progress, so the
// second is no longer a deadlock and is not reported.
TEST(WaitState, CycleThatDissolvesAfterAVictimIsNotReported) {
    WaitState st;
    std::size_t o1 = waiting(st, "O", 20);   // session 1 of owner O
    std::size_t o2 = waiting(st, "O", 10);   // session 2 of owner O
    std::size_t p = waiting(st, "P", 11);
    std::size_t q = waiting(st, "Q", 12);
    std::size_t oo = owner(st, "O", {o1, o2});
    held_by_owner(st, p, "R1", oo);
    held_by_session(st, o1, "R2", p, "P");   // cycle 1: p -> O(o1) -> p
    held_by_owner(st, q, "R3", oo);
    held_by_session(st, o2, "R4", q, "Q");   // cycle 2: q -> O(o2) -> q
    auto broken = break_stuck_cycles(st);
    // The youngest wait of the first cycle found is o1 (request 20); then O
    // can progress through o1 and both p and q are free of deadlock.
    ASSERT_EQ(broken.size(), 1u);
    EXPECT_EQ(broken[0].victim.request, 20u);
}

// A session that waits for a lease its own open transaction wrote can never
// be granted it: a cycle of one.
TEST(WaitState, WaitingForOwnUncommittedHoldingIsASelfCycle) {
    WaitState st;
    std::size_t a = waiting(st, "B", 10);
    held_by_session(st, a, "X", a, "A");
    auto broken = break_stuck_cycles(st);
    ASSERT_EQ(broken.size(), 1u);
    EXPECT_EQ(broken[0].victim.reason, "the only wait in the cycle");
}
