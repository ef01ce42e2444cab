// Collaborative documents and whiteboards: the rules as laws. Random orders
// and duplicates of one set of operations give the same board; an update is
// delivered exactly when its dependencies are, after them.
#include "core/collab/json_object.hpp"
#include "core/collab/shape_map.hpp"
#include "core/collab/update_log.hpp"

#include "error_of.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

using namespace coord::collab;

namespace {

Update upd(std::string client, Seq seq, StateVector deps = {}) { return {std::move(client), seq, std::move(deps)}; }

TEST(StateVector, ParsesAndRefuses) {
    EXPECT_EQ(parse_state_vector(R"({"a": 3, "b": 0})", "sv"), (StateVector{{"a", 3}}));
    EXPECT_EQ(parse_state_vector("{}", "sv"), StateVector{});
    EXPECT_EQ(sqlstate_of([] { parse_state_vector("[1]", "sv"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { parse_state_vector(R"({"a": -1})", "sv"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { parse_state_vector(R"({"a": 1.5})", "sv"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { parse_state_vector(R"({"a": "1"})", "sv"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { parse_state_vector(R"({"": 1})", "sv"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { parse_state_vector(R"({"a": 1, "b": 2})", "sv", 1); }), "22023");
    EXPECT_EQ(state_vector_json({{"a", 3}, {"b\"", 1}}), R"({"a": 3, "b\"": 1})");
}

TEST(JsonObject, KeepsRawValues) {
    auto m = json_object_members(R"({"x": {"a": [1, "}"]}, "y\n": "s", "z": null})", "f");
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].value, R"({"a": [1, "}"]})");
    EXPECT_EQ(m[1].key, "y\n");
    EXPECT_EQ(m[2].value, "null");
}

TEST(Append, ResendGapAndConflict) {
    DocumentLog log;
    auto r = log.append(upd("a", 1), "p1");
    EXPECT_TRUE(r.accepted);
    EXPECT_EQ(r.position, 1);
    auto again = log.append(upd("a", 1), "p1");
    EXPECT_FALSE(again.accepted);
    EXPECT_EQ(again.position, 1);
    EXPECT_EQ(sqlstate_of([&] { log.append(upd("a", 1), "other"); }), "PC002");
    auto [code, message] = error_of([&] { log.append(upd("a", 3), "p3"); });
    EXPECT_EQ(code, "PC003");
    EXPECT_NE(message.find("expected seq is 2"), std::string::npos);
    EXPECT_EQ(sqlstate_of([&] { log.append(upd("a", 2, {{"a", 2}}), "x"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_seq(0); }), "22023");
    EXPECT_EQ(sqlstate_of([] { require_seq(std::nullopt); }), "22004");
}

TEST(Append, HeldUntilDepsThenAfterThem) {
    DocumentLog log;
    auto b = log.append(upd("b", 1, {{"a", 2}}), "b1");
    EXPECT_TRUE(b.held);
    EXPECT_FALSE(b.position);
    log.append(upd("a", 1), "a1");
    EXPECT_EQ(log.held_count(), 1u);
    auto a2 = log.append(upd("a", 2), "a2");
    EXPECT_FALSE(a2.held);
    EXPECT_EQ(log.held_count(), 0u);
    auto all = log.since({});
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[2].client, "b");
    EXPECT_GT(all[2].position, all[1].position);
    // A resend of the held-then-delivered update reports its position now.
    auto again = log.append(upd("b", 1, {{"a", 2}}), "b1");
    EXPECT_EQ(again.position, all[2].position);
}

TEST(ReleaseOrder, ChainsInOneRelease) {
    std::vector<Update> held{upd("c", 1, {{"b", 1}}), upd("b", 1, {{"a", 1}}), upd("d", 1, {{"z", 1}})};
    StateVector sv{{"a", 1}};
    auto order = release_order(held, sv);
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(order[0], 1u);
    EXPECT_EQ(order[1], 0u);
    EXPECT_EQ(sv["c"], 1);
}

// A random causal history: 4 clients, each update depending on a random
// earlier prefix of other clients.
struct History {
    std::vector<Update> updates;
};

History random_history(std::mt19937_64& rng, int n) {
    History h;
    std::vector<std::string> clients{"a", "b", "c", "d"};
    StateVector made;
    for (int i = 0; i < n; ++i) {
        std::string c = clients[rng() % clients.size()];
        Update u{c, made[c] + 1, {}};
        for (const auto& [other, seq] : made)
            if (other != c && seq > 0 && rng() % 2) u.deps[other] = 1 + rng() % seq;
        made[c] = u.seq;
        h.updates.push_back(u);
    }
    return h;
}

std::string payload_of(const Update& u) { return u.client + ":" + std::to_string(u.seq); }

TEST(Laws, EveryOrderWithDuplicatesDeliversEverythingOnceAfterItsDeps) {
    std::mt19937_64 rng(15);
    for (int round = 0; round < 300; ++round) {
        History h = random_history(rng, 40);
        std::vector<Update> arrivals = h.updates;
        for (int d = 0; d < 15; ++d) arrivals.push_back(h.updates[rng() % h.updates.size()]);
        std::shuffle(arrivals.begin(), arrivals.end(), rng);
        DocumentLog log;
        // A client never sends seq n+1 before n is stored: deliver in a
        // per-client order by retrying refused gaps later.
        std::vector<Update> pending = arrivals;
        while (!pending.empty()) {
            std::vector<Update> later;
            for (const Update& u : pending) {
                std::string code = sqlstate_of([&] { log.append(u, payload_of(u)); });
                if (code == "PC003") later.push_back(u);
                else ASSERT_EQ(code, "none");
                // Law: an update is delivered exactly when its deps are.
            }
            pending = later;
        }
        EXPECT_EQ(log.held_count(), 0u);
        auto all = log.since({});
        ASSERT_EQ(all.size(), h.updates.size());
        std::map<std::pair<std::string, Seq>, Position> pos;
        for (auto& d : all) {
            EXPECT_TRUE(pos.emplace(std::make_pair(d.client, d.seq), d.position).second);
            EXPECT_EQ(d.payload, d.client + ":" + std::to_string(d.seq));
        }
        for (const Update& u : h.updates)
            for (const auto& [c, s] : requirements(u))
                EXPECT_LT(pos.at({c, s}), pos.at({u.client, u.seq}));
    }
}

TEST(Laws, HeldExactlyWhileADependencyIsMissing) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 200; ++round) {
        History h = random_history(rng, 30);
        // Clients send their own seqs in order, interleaved at random.
        std::map<std::string, std::vector<Update>> per_client;
        for (const Update& u : h.updates) per_client[u.client].push_back(u);
        std::map<std::string, std::size_t> next;
        DocumentLog log;
        std::set<std::pair<std::string, Seq>> stored;
        for (std::size_t i = 0; i < h.updates.size(); ++i) {
            // Pick a random client with something left to send.
            std::vector<std::string> ready;
            for (auto& [c, list] : per_client) if (next[c] < list.size()) ready.push_back(c);
            std::string c = ready[rng() % ready.size()];
            const Update& v = per_client[c][next[c]++];
            StateVector before = log.state_vector();
            auto r = log.append(v, payload_of(v));
            EXPECT_EQ(r.held, !deliverable(v, before));
            stored.insert({v.client, v.seq});
            // Every stored update whose requirements are all stored is delivered.
            for (const auto& [c2, list] : per_client)
                for (std::size_t k = 0; k < next[c2]; ++k) {
                    const Update& w = list[k];
                    bool all_stored = true;
                    std::vector<std::pair<std::string, Seq>> todo{{w.client, w.seq}};
                    std::set<std::pair<std::string, Seq>> seen;
                    while (!todo.empty() && all_stored) {
                        auto cur = todo.back();
                        todo.pop_back();
                        if (!seen.insert(cur).second) continue;
                        if (!stored.count(cur)) { all_stored = false; break; }
                        const Update& x = per_client[cur.first][cur.second - 1];
                        for (auto& [dc, ds] : requirements(x))
                            for (Seq s = 1; s <= ds; ++s) todo.push_back({dc, s});
                    }
                    const StateVector& sv = log.state_vector();
                    bool delivered = sv.count(w.client) && sv.at(w.client) >= w.seq;
                    EXPECT_EQ(delivered, all_stored);
                }
        }
    }
}

TEST(Shapes, HigherLamportWinsTiesGoToTheSmallerClient) {
    EXPECT_TRUE(writes_after({2, "b"}, {1, "a"}));
    EXPECT_TRUE(writes_after({1, "a"}, {1, "b"}));
    EXPECT_FALSE(writes_after({1, "b"}, {1, "a"}));
    Shape s;
    apply_fields(s, {1, "b"}, parse_fields(R"({"x": 1, "y": 1})"));
    apply_fields(s, {1, "a"}, parse_fields(R"({"x": 2})"));
    apply_fields(s, {1, "c"}, parse_fields(R"({"y": 3})"));
    apply_fields(s, {0, "a"}, parse_fields(R"({"w": 5})"));
    EXPECT_EQ(fields_json(s), R"({"w": 5, "x": 2, "y": 1})");
    Shape back = shape_from_json(fields_json(s), writers_json(s), false);
    EXPECT_EQ(writers_json(back), writers_json(s));
    EXPECT_TRUE(apply_delete(s));
    EXPECT_FALSE(apply_delete(s));
    EXPECT_FALSE(apply_fields(s, {9, "a"}, parse_fields(R"({"x": 1})")));
    EXPECT_EQ(fields_json(s), "{}");
    EXPECT_EQ(sqlstate_of([] { require_lamport(-1); }), "22023");
    EXPECT_EQ(sqlstate_of([] { parse_fields(R"({"": 1})"); }), "22023");
    EXPECT_EQ(sqlstate_of([] { parse_fields("[]"); }), "22023");
}

TEST(Laws, MoveAndResizeCommute) {
    Shape a, b;
    auto move = parse_fields(R"({"x": 10, "y": 20})");
    auto resize = parse_fields(R"({"w": 5, "h": 6})");
    apply_fields(a, {3, "u1"}, move);
    apply_fields(a, {3, "u2"}, resize);
    apply_fields(b, {3, "u2"}, resize);
    apply_fields(b, {3, "u1"}, move);
    EXPECT_EQ(fields_json(a), R"({"h": 6, "w": 5, "x": 10, "y": 20})");
    EXPECT_EQ(fields_json(a), fields_json(b));
}

TEST(Laws, AnyOrderWithDuplicatesGivesTheSameBoard) {
    std::mt19937_64 rng(42);
    for (int round = 0; round < 500; ++round) {
        std::vector<ShapeOp> ops;
        for (int i = 0; i < 30; ++i) {
            ShapeOp op;
            op.shape = "s" + std::to_string(rng() % 4);
            op.writer = {static_cast<Lamport>(rng() % 5), "c" + std::to_string(rng() % 3)};
            op.remove = rng() % 12 == 0;
            if (!op.remove) {
                std::string json = "{";
                int n = 1 + rng() % 3;
                for (int f = 0; f < n; ++f) {
                    if (f) json += ", ";
                    json += "\"f" + std::to_string(rng() % 4) + "\": " + std::to_string(rng() % 100);
                }
                op.fields = parse_fields(json + "}");
            }
            ops.push_back(op);
        }
        auto board_text = [](const Board& b) {
            std::string t;
            for (const auto& [name, s] : b) t += name + (s.deleted ? " deleted " : " ") + fields_json(s) + "\n";
            return t;
        };
        Board reference;
        for (const ShapeOp& op : ops) apply_op(reference, op);
        for (int perm = 0; perm < 5; ++perm) {
            std::vector<ShapeOp> order = ops;
            for (int d = 0; d < 10; ++d) order.push_back(ops[rng() % ops.size()]);
            std::shuffle(order.begin(), order.end(), rng);
            Board b;
            for (const ShapeOp& op : order) apply_op(b, op);
            ASSERT_EQ(board_text(b), board_text(reference));
        }
    }
}

TEST(Laws, TwoDeletesOneTrue) {
    Board b;
    ShapeOp del{"s", {1, "a"}, {}, true};
    EXPECT_TRUE(apply_op(b, del));
    EXPECT_FALSE(apply_op(b, ShapeOp{"s", {2, "b"}, {}, true}));
}

}  // namespace
