// SQL-callable functions over waiting's shared memory: coord.waiting_requests()
// (behind coord.waiters), coord.pending_deadlocks() (behind coord.deadlocks),
// coord.wait_edges() (behind coord.wait_graph) and coord.detect_deadlocks().
#include "pg/common/datum.hpp"
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "storage/proc.h"
}

#include <algorithm>

using namespace coord;
using namespace coord::pg;
using namespace coord::pg::waiting;

// coord.waiting_requests(): name, owner, waiting_since, position, pid, wait_until
COORD_FUNCTION(coord_waiting_requests) {
    begin_result_set(fcinfo);
    if (shared == nullptr) return Datum(0);
    std::vector<WaiterCopy> waiters = copy_waiters(MyDatabaseId);  // sorted by name, arrival
    int position = 0;
    for (std::size_t i = 0; i < waiters.size(); ++i) {
        const WaiterCopy& w = waiters[i];
        position = (i > 0 && waiters[i - 1].name == w.name) ? position + 1 : 1;
        Datum values[6] = {text_datum(w.name), text_datum(w.owner), TimestampTzGetDatum(w.since),
                           Int32GetDatum(position), Int32GetDatum(w.pid), TimestampTzGetDatum(w.deadline)};
        bool nulls[6] = {false, false, false, false, false, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}

// coord.pending_deadlocks(): deadlocks detected but not (yet, visibly) in
// coord.deadlock_history.
COORD_FUNCTION(coord_pending_deadlocks) {
    begin_result_set(fcinfo);
    if (shared == nullptr) return Datum(0);
    std::vector<DeadlockRecord> raw;
    raw.reserve(kRingSize);
    {
        LockGuard guard(misc_lock(), LW_SHARED);
        for (const DeadlockRecord& r : shared->ring)
            if (r.database == MyDatabaseId &&
                (r.state == RecordState::pending ||
                 (r.state == RecordState::claimed && r.claimed_by != MyProc->pgprocno)))
                raw.push_back(r);
    }
    std::sort(raw.begin(), raw.end(), [](const DeadlockRecord& a, const DeadlockRecord& b) { return a.id < b.id; });
    for (const DeadlockRecord& r : raw) {
        Datum values[7] = {TimestampTzGetDatum(r.detected_at), text_datum(r.cycle_json),
                           text_datum(r.cycle_text),          text_datum(r.victim_owner),
                           text_datum(r.victim_name),         Int32GetDatum(r.victim_pid),
                           text_datum(r.reason)};
        bool nulls[7] = {false, false, false, false, false, false, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}

// coord.wait_edges(): waiter, name, holder, waiting_since, edge, kind,
// waiter_pid, holder_pid -- every edge the deadlock detector uses.
COORD_FUNCTION(coord_wait_edges) {
    begin_result_set(fcinfo);
    for (const EdgeRow& e : current_edges()) {
        Datum values[8] = {text_datum(e.waiter), text_datum(e.name), text_datum(e.holder),
                           TimestampTzGetDatum(e.waiting_since), text_datum(e.edge), text_datum(e.kind),
                           Int32GetDatum(e.waiter_pid), Int32GetDatum(e.holder_pid.value_or(0))};
        bool nulls[8] = {false, false, false, false, false, false, false, !e.holder_pid.has_value()};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}

COORD_FUNCTION(coord_detect_deadlocks) {
    Spi spi;
    return Int32GetDatum(detect_all_deadlocks(spi));
}
