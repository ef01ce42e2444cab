#include "core/waiting/wait_graph.hpp"

#include "core/common/json.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace coord {

namespace bc = boost::container;

void WaitGraph::add_edge(WaitEdge edge) {
    edges_.push_back(std::move(edge));
    removed_.push_back(false);
    indexed_ = false;
}

void WaitGraph::build_index() const {
    if (indexed_) return;
    bc::vector<std::string_view> names;
    names.reserve(edges_.size() * 2);
    for (const WaitEdge& e : edges_) {
        names.push_back(e.waiter_key());
        names.push_back(e.holder_key());
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    bc::vector<std::pair<std::string_view, NodeId>> sorted;
    sorted.reserve(names.size());
    for (std::size_t i = 0; i < names.size(); ++i)
        sorted.emplace_back(names[i], static_cast<NodeId>(i));
    owners_.clear();
    owners_.insert(bc::ordered_unique_range, sorted.begin(), sorted.end());
    auto id_of = [&](std::string_view owner) { return owners_.find(owner)->second; };
    to_.assign(edges_.size(), 0);
    out_.clear();
    out_.resize(names.size());
    for (std::size_t i = 0; i < edges_.size(); ++i) {
        to_[i] = id_of(edges_[i].holder_key());
        out_[id_of(edges_[i].waiter_key())].push_back(static_cast<std::uint32_t>(i));
    }
    indexed_ = true;
}

void WaitGraph::remove_request(std::uint64_t request) {
    for (std::size_t i = 0; i < edges_.size(); ++i)
        if (edges_[i].request == request) removed_[i] = true;
}

WaitCycle WaitGraph::cycle_from(const bc::vector<std::uint32_t>& edge_path) const {
    WaitCycle cycle;
    cycle.edges.reserve(edge_path.size());
    for (std::uint32_t e : edge_path) cycle.edges.push_back(edges_[e]);
    return cycle;
}

std::optional<WaitCycle> WaitGraph::find_cycle_through(std::string_view owner) const {
    build_index();
    auto it = owners_.find(owner);
    if (it == owners_.end()) return std::nullopt;
    const NodeId start = it->second;
    // Depth-first search from `start`; a path back to `start` closes a cycle.
    // A node is expanded once: if no cycle through `start` passes through it
    // the first time, none does later either.
    bc::vector<bool> visited(owners_.size(), false);
    struct Frame {
        NodeId node;
        std::uint32_t next;  // index into out_[node]
    };
    bc::vector<Frame> stack;
    bc::vector<std::uint32_t> path;  // path[i]: edge from stack[i] to stack[i + 1]
    stack.push_back({start, 0});
    visited[start] = true;
    while (!stack.empty()) {
        Frame& top = stack.back();
        const auto& edges = out_[top.node];
        if (top.next == edges.size()) {
            stack.pop_back();
            if (!path.empty()) path.pop_back();
            continue;
        }
        std::uint32_t e = edges[top.next++];
        if (removed_[e]) continue;
        NodeId next = to_[e];
        if (next == start) {
            path.push_back(e);
            return cycle_from(path);
        }
        if (visited[next]) continue;
        visited[next] = true;
        path.push_back(e);
        stack.push_back({next, 0});
    }
    return std::nullopt;
}

std::optional<WaitCycle> WaitGraph::find_any_cycle() const {
    build_index();
    enum : std::uint8_t { white, grey, black };
    bc::vector<std::uint8_t> colour(owners_.size(), white);
    bc::vector<std::uint32_t> depth(owners_.size(), 0);  // position on the stack while grey
    struct Frame {
        NodeId node;
        std::uint32_t next;
    };
    bc::vector<Frame> stack;
    bc::vector<std::uint32_t> path;
    for (NodeId root = 0; root < owners_.size(); ++root) {
        if (colour[root] != white) continue;
        stack.push_back({root, 0});
        colour[root] = grey;
        depth[root] = 0;
        while (!stack.empty()) {
            Frame& top = stack.back();
            const auto& edges = out_[top.node];
            if (top.next == edges.size()) {
                colour[top.node] = black;
                stack.pop_back();
                if (!path.empty()) path.pop_back();
                continue;
            }
            std::uint32_t e = edges[top.next++];
            if (removed_[e]) continue;
            NodeId next = to_[e];
            if (colour[next] == grey) {
                // A back edge: the cycle is the path from `next` down to here.
                bc::vector<std::uint32_t> cycle(path.begin() + depth[next], path.end());
                cycle.push_back(e);
                return cycle_from(cycle);
            }
            if (colour[next] == black) continue;
            colour[next] = grey;
            depth[next] = static_cast<std::uint32_t>(stack.size());
            path.push_back(e);
            stack.push_back({next, 0});
        }
    }
    return std::nullopt;
}

VictimChoice choose_victim(const WaitCycle& cycle) {
    VictimChoice choice;
    for (std::size_t i = 0; i < cycle.edges.size(); ++i) {
        if (i == 0 || cycle.edges[i].request > choice.request) {
            choice.edge = i;
            choice.request = cycle.edges[i].request;
        }
    }
    if (cycle.edges.size() == 1) {
        choice.reason = "the only wait in the cycle";
    } else {
        choice.reason = fmt::format(
            "youngest wait in the cycle: \"{}\" started waiting for \"{}\" after every other owner in it",
            cycle.edges[choice.edge].waiter, cycle.edges[choice.edge].name);
    }
    return choice;
}

std::vector<BrokenCycle> break_all_cycles(WaitGraph graph) {
    std::vector<BrokenCycle> broken;
    while (auto cycle = graph.find_any_cycle()) {
        VictimChoice victim = choose_victim(*cycle);
        graph.remove_request(victim.request);
        broken.push_back({std::move(*cycle), std::move(victim)});
    }
    return broken;
}

WaitCycle rotate_cycle(const WaitCycle& cycle, std::size_t first) {
    WaitCycle out;
    const std::size_t n = cycle.edges.size();
    out.edges.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.edges.push_back(cycle.edges[(first + i) % n]);
    return out;
}

std::string describe_cycle(const WaitCycle& cycle) {
    std::string out;
    for (const WaitEdge& e : cycle.edges) {
        if (!out.empty()) out += " -> ";
        out += fmt::format("\"{}\" waits for \"{}\" {} \"{}\"", e.waiter, e.name,
                           e.kind == WaitEdge::Kind::held ? "held by" : "queued behind", e.holder);
    }
    return out;
}

std::string cycle_json(const WaitCycle& cycle) {
    std::string out = "[";
    for (std::size_t i = 0; i < cycle.edges.size(); ++i) {
        const WaitEdge& e = cycle.edges[i];
        if (i) out += ",";
        out += fmt::format(R"({{"waiter":"{}","name":"{}","holder":"{}","edge":"{}"}})",
                           json_escape(e.waiter), json_escape(e.name), json_escape(e.holder),
                           e.kind == WaitEdge::Kind::held ? "held" : "queued");
    }
    return out + "]";
}

}  // namespace coord
