// Deadlock detection among waiting sessions: the wait state of a database
// built from the queues, the lease rows and the sessions' owners
// (wait_state.hpp decides who is stuck and which cycles are real), and the
// victim of a cycle marked (README, "Deadlocks: the rule").
#include "core/common/error.hpp"
#include "core/waiting/wait_graph.hpp"
#include "core/waiting/wait_state.hpp"
#include "pg/leases/lease_row.hpp"
#include "pg/leases/leases.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "storage/proc.h"
#include "storage/procarray.h"
}

#include <algorithm>
#include <map>

namespace coord::pg {

namespace waiting {

[[noreturn]] void throw_victim(const std::string& name, const std::string& detail) {
    metrics::count_now(metrics::Counter::deadlocks);
    throw Error(sqlstate::deadlock_detected,
                fmt::format("deadlock detected while waiting for lease \"{}\"", name), detail,
                "This wait was cancelled to break the cycle; the other owners keep waiting. Release "
                "the leases this owner holds (or let them expire) and retry.");
}

namespace {

// The wait state of this database (wait_state.hpp): one session per waiting
// backend and per backend that acted as an owner, the block of each waiting
// request on each of its names -- the open transaction writing the name's
// lease row (an uncommitted holding or release: found with a dirty-snapshot
// probe, as deadlock.c finds a lock's holder), else the committed live
// holder (an owner, with every session that acts as it), and the request
// queued ahead of it.
struct GraphInput {
    WaitState state;
    std::optional<std::size_t> me;  // this backend's session, when it is one
    std::vector<int> pids;          // per session
};

GraphInput build_wait_state(const std::vector<WaiterCopy>& waiters) {
    GraphInput in;
    WaitState& st = in.state;
    std::map<int, std::size_t> by_procno;
    std::map<int, std::size_t> by_pid;
    std::vector<std::vector<std::string>> acts_as;  // per session: owners it acted as
    std::vector<bool> any_owner;                      // per session: acted as too many to keep
    auto session_of = [&](int procno, int pid) {
        auto [it, added] = by_procno.emplace(procno, st.sessions.size());
        if (added) {
            st.sessions.emplace_back();
            acts_as.emplace_back();
            any_owner.push_back(false);
            by_pid.emplace(pid, it->second);
            in.pids.push_back(pid);
            if (procno == MyProc->pgprocno) in.me = it->second;
        }
        return it->second;
    };
    for (const WaiterCopy& w : waiters) {
        std::size_t s = session_of(w.procno, w.pid);
        WaitState::Session& session = st.sessions[s];
        session.waiting = true;
        session.owner = w.owner;
        session.request = w.request;
        session.since = w.since;
    }
    for (SessionOwnersCopy& r : copy_session_owners(MyDatabaseId)) {
        std::size_t s = session_of(r.procno, r.pid);
        any_owner[s] = r.overflow;
        for (std::string& o : r.owners) acts_as[s].push_back(std::move(o));
    }
    std::map<std::string, std::size_t> owner_index;
    auto owner_node = [&](const std::string& owner) {
        auto [it, added] = owner_index.emplace(owner, st.owners.size());
        if (added) st.owners.push_back({owner, {}});
        return it->second;
    };
    auto label_of = [&](std::size_t s) {
        return st.sessions[s].waiting || acts_as[s].empty() ? st.sessions[s].owner : acts_as[s].front();
    };
    const Micros now = now_micros();
    // waiters are sorted by name, then arrival.
    for (std::size_t i = 0; i < waiters.size();) {
        const std::string& name = waiters[i].name;
        std::size_t end = i;
        while (end < waiters.size() && waiters[end].name == name) ++end;
        // Who decides the name's next state.
        std::optional<std::size_t> holder_session;
        std::optional<std::string> holder_owner;
        std::string holder_label;
        LeaseRowWriter writer = lease_row_writer(name);
        if (TransactionIdIsValid(writer.other)) {
            int pid = pg_call([&] { return BackendXidGetPid(writer.other); });
            auto it = by_pid.find(pid);
            // A writer that is no session here (not waiting, never acted as
            // an owner; or a prepared transaction) can make progress: no block.
            if (pid != 0 && it != by_pid.end()) holder_session = it->second;
        } else {
            std::optional<LeaseRecord> row = read_lease(name);
            if (writer.mine) {
                if (in.me) holder_session = *in.me;
                if (row && row->owner) holder_label = *row->owner;
            } else if (row && row->held_at(now) && row->owner) {
                holder_owner = *row->owner;
            }
        }
        if (holder_session && holder_label.empty()) holder_label = label_of(*holder_session);
        for (std::size_t j = i; j < end; ++j) {
            const WaiterCopy& w = waiters[j];
            std::size_t s = by_procno.at(w.procno);
            if (holder_session) {
                st.blocks.push_back({s, name, WaitEdge::Kind::held, WaitState::Target::session,
                                     *holder_session, holder_label});
            } else if (holder_owner && *holder_owner != w.owner) {
                st.blocks.push_back({s, name, WaitEdge::Kind::held, WaitState::Target::owner,
                                     owner_node(*holder_owner), *holder_owner});
            }
            if (j > i) {
                std::size_t ahead = by_procno.at(waiters[j - 1].procno);
                st.blocks.push_back({s, name, WaitEdge::Kind::queued, WaitState::Target::session, ahead,
                                     waiters[j - 1].owner});
            }
        }
        i = end;
    }
    // The sessions acting as each owner that holds a name waited for.
    for (WaitState::Owner& o : st.owners)
        for (std::size_t s = 0; s < st.sessions.size(); ++s) {
            bool acts = any_owner[s] || (st.sessions[s].waiting && st.sessions[s].owner == o.name);
            for (const std::string& a : acts_as[s]) acts = acts || a == o.name;
            if (acts) o.sessions.push_back(s);
        }
    return in;
}

// Marks the victim of `found` if every request in it is still waiting (and
// none has been handed its lease). Returns true when a victim was marked.
bool cancel_victim(const WaitCycle& found, const VictimChoice& victim, Micros now) {
    // Reported from the victim's wait on, whoever found the cycle.
    WaitCycle cycle = rotate_cycle(found, victim.edge);
    std::string text = describe_cycle(cycle);
    std::string json = cycle_json(cycle);
    const WaitEdge& v = cycle.edges.front();
    std::string detail = fmt::format("Cycle: {}. Victim: \"{}\" waiting for \"{}\" ({}).", text,
                                     v.waiter, v.name, victim.reason);
    // The backends of the cycle's requests, looked up without a lock and
    // checked again under their locks (taken in procno order).
    std::vector<int> procs;
    for (const WaitEdge& e : cycle.edges)
        for (int p = 0; p < shared->nbackends; ++p)
            if (backends[p].request == e.request) procs.push_back(p);
    std::sort(procs.begin(), procs.end());
    procs.erase(std::unique(procs.begin(), procs.end()), procs.end());
    for (int p : procs) LWLockAcquire(backend_lock(p), LW_EXCLUSIVE);
    int victim_proc = -1;
    bool all_waiting = true;
    for (const WaitEdge& e : cycle.edges) {
        int proc = -1;
        for (int p : procs)
            if (backends[p].request == e.request && backends[p].state == BackendState::waiting &&
                backends[p].database == MyDatabaseId && backends[p].handed_token == 0)
                proc = p;
        if (proc < 0) all_waiting = false;
        if (e.request == victim.request) victim_proc = proc;
    }
    bool marked = all_waiting && victim_proc >= 0;
    if (marked) {
        BackendWait& b = backends[victim_proc];
        b.state = BackendState::victim;
        copy_text(b.victim_name, sizeof b.victim_name, v.name);
        copy_text(b.victim_detail, sizeof b.victim_detail, detail);
        {
            LockGuard misc(misc_lock(), LW_EXCLUSIVE);
            add_deadlock_record_locked(cycle, text, json, victim.reason, b.pid, now);
        }
        wake(victim_proc);
    }
    for (auto it = procs.rbegin(); it != procs.rend(); ++it) LWLockRelease(backend_lock(*it));
    return marked;
}

}  // namespace

std::vector<EdgeRow> current_edges() {
    std::vector<EdgeRow> out;
    if (shared == nullptr) return out;
    std::vector<WaiterCopy> waiters = copy_waiters(MyDatabaseId);
    if (waiters.empty()) return out;
    GraphInput in = build_wait_state(waiters);
    const WaitState& st = in.state;
    for (const WaitState::Block& b : st.blocks) {
        const WaitState::Session& w = st.sessions[b.waiter];
        EdgeRow r;
        r.waiter = w.owner;
        r.waiter_pid = in.pids[b.waiter];
        r.name = b.name;
        r.holder = b.holder;
        r.waiting_since = w.since;
        r.edge = b.kind == WaitEdge::Kind::queued ? "queued" : "held";
        if (b.kind == WaitEdge::Kind::queued) {
            r.kind = "queued";
            r.holder_pid = in.pids[b.target];
        } else if (b.target_kind == WaitState::Target::session) {
            r.kind = "uncommitted";  // the open transaction writing the name's lease row
            r.holder_pid = in.pids[b.target];
        } else {
            r.kind = "committed";  // the committed live holder (an owner)
        }
        out.push_back(std::move(r));
    }
    return out;
}

bool check_deadlock_through_me() {
    std::vector<WaiterCopy> waiters = copy_waiters(MyDatabaseId);
    if (waiters.empty()) return false;
    GraphInput in = build_wait_state(waiters);
    if (!in.me) return false;
    std::optional<WaitCycle> cycle = stuck_graph(in.state).find_cycle_through(vertex_key(*in.me));
    if (!cycle) return false;
    return cancel_victim(*cycle, choose_victim(*cycle), now_micros());
}

}  // namespace waiting

using namespace waiting;

int detect_all_deadlocks(Spi& spi) {
    if (shared == nullptr) return 0;
    std::vector<WaiterCopy> waiters = copy_waiters(MyDatabaseId);
    int broken = 0;
    if (!waiters.empty()) {
        for (const BrokenCycle& b : break_stuck_cycles(build_wait_state(waiters).state))
            if (cancel_victim(b.cycle, b.victim, now_micros())) ++broken;
    }
    if (pending_records_exist()) persist_deadlocks(spi);
    return broken;
}

}  // namespace coord::pg
