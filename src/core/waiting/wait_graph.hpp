// The wait-for graph among lease OWNERS and its cycle search.
//
// A node is an owner (the application's identity, not a backend). An edge
// "waiter -> holder" says: a waiting request of `waiter` for lease `name`
// cannot be granted before `holder` lets go, either because `holder` holds
// the lease (Kind::held) or because a request of `holder` is queued ahead of
// it for that name (Kind::queued: FIFO means it will hold the name first).
//
// The glue builds the graph from the waiters asleep in shared memory and the
// live holdings in coord.lease_state; everything here is plain C++ on
// Boost.Container structures, deterministic (edges are visited in insertion
// order) and iterative (no recursion, so 10 000-node chains are fine).
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/time.hpp"

#include <boost/container/flat_map.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/container/vector.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord {

struct WaitEdge {
    enum class Kind { held, queued };
    std::string waiter;           // owner that waits
    std::string name;             // the lease it waits for
    std::string holder;           // owner it waits for
    Kind kind = Kind::held;
    std::uint64_t request = 0;    // the waiting request (arrival sequence number: larger = younger)
    Micros waiting_since = 0;
    // The graph's vertices when they are not the owner strings: the waiting
    // session and the session waited for (wait_state.hpp uses one vertex
    // per session; several sessions may act as one owner). Empty: the owner.
    std::string waiter_vertex;
    std::string holder_vertex;

    std::string_view waiter_key() const { return waiter_vertex.empty() ? waiter : waiter_vertex; }
    std::string_view holder_key() const { return holder_vertex.empty() ? holder : holder_vertex; }
};

// A cycle: edges[i].holder_key() == edges[i + 1].waiter_key(), and the last
// edge's holder is the first edge's waiter.
struct WaitCycle {
    std::vector<WaitEdge> edges;
};

// Which waiting request is cancelled to break a cycle, and why.
struct VictimChoice {
    std::size_t edge = 0;      // index into WaitCycle::edges
    std::uint64_t request = 0;
    std::string reason;
};

class WaitGraph {
public:
    WaitGraph() = default;
    // The index holds views into the edges: a copy rebuilds its own.
    WaitGraph(const WaitGraph& other) : edges_(other.edges_), removed_(other.removed_) {}
    WaitGraph& operator=(const WaitGraph& other) {
        edges_ = other.edges_;
        removed_ = other.removed_;
        indexed_ = false;
        return *this;
    }
    void add_edge(WaitEdge edge);
    std::size_t node_count() const {
        build_index();
        return owners_.size();
    }
    std::size_t edge_count() const { return edges_.size(); }

    // A cycle that goes through vertex `owner` (an owner, or a vertex key), if there is one.
    std::optional<WaitCycle> find_cycle_through(std::string_view owner) const;

    // Any cycle, if there is one.
    std::optional<WaitCycle> find_any_cycle() const;

    // Drops every edge of a waiting request (it was cancelled).
    void remove_request(std::uint64_t request);

private:
    using NodeId = std::uint32_t;
    // The owner index (sorted names -> node ids) and the adjacency lists are
    // built once, lazily, after the edges are in: one sort instead of one
    // sorted insert per edge.
    void build_index() const;
    WaitCycle cycle_from(const boost::container::vector<std::uint32_t>& edge_path) const;

    boost::container::vector<WaitEdge> edges_;
    boost::container::vector<bool> removed_;
    mutable bool indexed_ = false;
    mutable boost::container::flat_map<std::string_view, NodeId> owners_;
    mutable boost::container::vector<NodeId> to_;
    mutable boost::container::vector<boost::container::small_vector<std::uint32_t, 2>> out_;
};

// The victim rule: the youngest wait in the cycle (the request that arrived
// last; it has waited least, and it is the one that closed the cycle). Ties
// (one request with several edges in the cycle) go to the first such edge.
VictimChoice choose_victim(const WaitCycle& cycle);

// Every cycle of the graph broken one by one: find a cycle, cancel its
// victim, repeat. Used by the whole-graph check.
struct BrokenCycle {
    WaitCycle cycle;
    VictimChoice victim;
};
std::vector<BrokenCycle> break_all_cycles(WaitGraph graph);

// The same cycle starting at edge `first` (the glue starts it at the victim,
// so whichever backend found the cycle, it is reported the same way).
WaitCycle rotate_cycle(const WaitCycle& cycle, std::size_t first);

// `"w1" waits for "db-02" held by "w2" -> "w2" waits for "db-01" held by "w1"`
std::string describe_cycle(const WaitCycle& cycle);
// [{"waiter":"w1","name":"db-02","holder":"w2","edge":"held"}, ...]
std::string cycle_json(const WaitCycle& cycle);

}  // namespace coord
