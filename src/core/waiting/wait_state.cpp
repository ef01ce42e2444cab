#include "core/waiting/wait_state.hpp"

#include <fmt/format.h>

namespace coord {

std::optional<std::size_t> WaitState::session_of_request(std::uint64_t request) const {
    for (std::size_t i = 0; i < sessions.size(); ++i)
        if (sessions[i].waiting && sessions[i].request == request) return i;
    return std::nullopt;
}

void WaitState::stop_waiting(std::size_t session) {
    sessions[session].waiting = false;
    std::vector<Block> kept;
    kept.reserve(blocks.size());
    for (Block& b : blocks)
        if (b.waiter != session) kept.push_back(std::move(b));
    blocks = std::move(kept);
}

namespace {

// Nodes: sessions [0, S), owners [S, S + O). A waiting session is an AND
// node over its blocks, an owner an OR node over its sessions; progress
// spreads from the sessions that are not waiting (a worklist: each block and
// each owner membership is looked at once).
std::vector<bool> progressing_nodes(const WaitState& st) {
    const std::size_t S = st.sessions.size();
    const std::size_t n = S + st.owners.size();
    std::vector<bool> progress(n, false);
    std::vector<std::size_t> pending(S, 0);  // blocks of a waiting session not yet progressing
    std::vector<std::vector<std::size_t>> and_dependents(n);  // node -> waiting sessions it blocks
    std::vector<std::vector<std::size_t>> or_dependents(S);   // session -> owners it acts as
    for (const WaitState::Block& b : st.blocks) {
        if (b.waiter >= S || !st.sessions[b.waiter].waiting) continue;
        std::size_t target = b.target_kind == WaitState::Target::session ? b.target : S + b.target;
        if (target >= n) continue;
        ++pending[b.waiter];
        and_dependents[target].push_back(b.waiter);
    }
    for (std::size_t o = 0; o < st.owners.size(); ++o)
        for (std::size_t s : st.owners[o].sessions)
            if (s < S) or_dependents[s].push_back(S + o);
    std::vector<std::size_t> work;
    auto mark = [&](std::size_t node) {
        if (progress[node]) return;
        progress[node] = true;
        work.push_back(node);
    };
    for (std::size_t s = 0; s < S; ++s)
        if (!st.sessions[s].waiting || pending[s] == 0) mark(s);
    for (std::size_t o = 0; o < st.owners.size(); ++o) {
        // No session waits AS this owner: its client is not stuck in a wait
        // here (behind a pooler, the connection that acted as it may now
        // serve another client, even one waiting for this very holding).
        bool waited_as = false;
        for (std::size_t s : st.owners[o].sessions)
            waited_as = waited_as || (s < S && st.sessions[s].waiting &&
                                      st.sessions[s].owner == st.owners[o].name);
        if (!waited_as) mark(S + o);
    }
    while (!work.empty()) {
        std::size_t node = work.back();
        work.pop_back();
        for (std::size_t w : and_dependents[node])
            if (!progress[w] && --pending[w] == 0) mark(w);
        if (node < S)
            for (std::size_t o : or_dependents[node]) mark(o);
    }
    return progress;
}

}  // namespace

std::string vertex_key(std::size_t session) { return fmt::format("#{}", session); }

std::vector<bool> sessions_progressing(const WaitState& state) {
    std::vector<bool> all = progressing_nodes(state);
    all.resize(state.sessions.size());
    return all;
}

WaitGraph stuck_graph(const WaitState& st) {
    std::vector<bool> progress = progressing_nodes(st);
    const std::size_t S = st.sessions.size();
    WaitGraph graph;
    for (const WaitState::Block& b : st.blocks) {
        if (b.waiter >= S || progress[b.waiter] || !st.sessions[b.waiter].waiting) continue;
        const WaitState::Session& w = st.sessions[b.waiter];
        auto edge_to = [&](std::size_t session) {
            graph.add_edge(WaitEdge{w.owner, b.name, b.holder, b.kind, w.request, w.since,
                                    vertex_key(b.waiter), vertex_key(session)});
        };
        if (b.target_kind == WaitState::Target::session) {
            if (b.target < S && !progress[b.target]) edge_to(b.target);
        } else if (b.target < st.owners.size() && !progress[S + b.target]) {
            for (std::size_t s : st.owners[b.target].sessions)
                if (s < S && !progress[s]) edge_to(s);
        }
    }
    return graph;
}

std::vector<BrokenCycle> break_stuck_cycles(WaitState state) {
    std::vector<BrokenCycle> broken;
    for (;;) {
        std::optional<WaitCycle> cycle = stuck_graph(state).find_any_cycle();
        if (!cycle) break;
        VictimChoice victim = choose_victim(*cycle);
        std::optional<std::size_t> s = state.session_of_request(victim.request);
        broken.push_back({std::move(*cycle), std::move(victim)});
        if (!s) break;  // cannot happen: every edge comes from a waiting session
        state.stop_waiting(*s);
    }
    return broken;
}

}  // namespace coord
