// Who among the sessions waiting for leases can still make progress, and the
// wait-for graph among those that cannot (README, "Deadlocks: the rule").
//
// A vertex is a SESSION (a backend), not an owner string: one owner (an
// instance id) may have many sessions, and a session of an owner that is not
// waiting can still release what that owner holds. What blocks a waiting
// request on one of its names:
//   - a session: the open transaction that is writing the name's lease row
//     (an uncommitted acquire, hand-off or release: its commit or rollback
//     decides the lease), or the session queued ahead of it for the name;
//   - an owner: the committed, live holder of the name. An owner can make
//     progress when ANY session acting as it can (it may release), and when no
//     live session waits AS it (none acts as it, or those that did now wait
//     as another owner: a pooled connection serving another client; the
//     owner's own client is not stuck here, a new one may come, or the ttl
//     ends it).
// A waiting session makes progress only when EVERYTHING blocking it does. A
// session that is not waiting makes progress. What cannot make progress
// (the greatest fixpoint) is deadlocked: every cycle among those vertices is
// real, and only those are reported.
//
// Plain C++, deterministic, linear in sessions + blocks per computation.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/time.hpp"
#include "core/waiting/wait_graph.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coord {

struct WaitState {
    struct Session {
        bool waiting = false;
        std::string owner;          // the owner its request waits as (when waiting)
        std::uint64_t request = 0;  // the waiting request's arrival number
        Micros since = 0;
    };
    enum class Target { session, owner };
    // `waiter` (a session index) waits for `name` and cannot have it before
    // `target` (a session or owner index) lets go.
    struct Block {
        std::size_t waiter = 0;
        std::string name;
        WaitEdge::Kind kind = WaitEdge::Kind::held;
        Target target_kind = Target::session;
        std::size_t target = 0;
        std::string holder;  // the owner shown for the edge
    };
    struct Owner {
        std::string name;
        std::vector<std::size_t> sessions;  // live sessions that act as it
    };
    std::vector<Session> sessions;
    std::vector<Owner> owners;
    std::vector<Block> blocks;

    // The session waiting with `request`, if any.
    std::optional<std::size_t> session_of_request(std::uint64_t request) const;
    // The request is no longer waiting (it was cancelled): it progresses.
    void stop_waiting(std::size_t session);
};

// Per session: true when it can make progress.
std::vector<bool> sessions_progressing(const WaitState& state);

// The wait-for graph among the sessions that cannot make progress: an edge
// per block whose target cannot either (a blocking owner becomes an edge to
// each of its sessions, all of them stuck). Vertex keys are `vertex_key(i)`.
WaitGraph stuck_graph(const WaitState& state);
std::string vertex_key(std::size_t session);

// Every deadlock broken one by one: find a cycle among stuck sessions, cancel
// its victim (youngest wait), decide again who is stuck, repeat.
std::vector<BrokenCycle> break_stuck_cycles(WaitState state);

}  // namespace coord
