// The one accessor of coord.lease_state's rows. Every read and write of a
// lease row goes through here: the direct reads and compare-and-sets of
// leases.cpp, their SQL fallbacks, the first insert of a name, and the
// row-locking SQL of the waiting path. A new column of the lease row, or
// another way of allocating tokens, changes this file (its column map and
// the SQL next to it) and nothing else that reads or writes the row.
#pragma once

#include "core/leases/lease.hpp"
#include "pg/common/spi.hpp"

extern "C" {
#include "access/htup.h"
#include "storage/itemptr.h"
#include "utils/snapshot.h"
}

namespace coord::pg {

// What a lease row is read for: to look at it, to lock it (a fence check),
// or to replace it (compare-and-set). The table lock is that of the SQL the
// access replaces: SELECT, SELECT ... FOR SHARE, UPDATE.
// look_latest: as look, with the latest snapshot (also under REPEATABLE READ):
// what a memory acquire decides on.
enum class LeaseAccess { look, look_latest, lock, change };

enum class SetResult {
    done,
    changed,  // another transaction changed the row since it was read: re-read
    locked,   // (wait = false only) another transaction is changing it now
};

// A lease row read through the primary-key index without the executor (an
// SPI SELECT costs more than the rest of a call), with the statement's
// snapshot (fresh under READ COMMITTED, after a CommandCounterIncrement so
// this transaction's own earlier changes are seen). For lock and change the
// row version read is kept (its snapshot registered until the destructor, so
// the version cannot be pruned and its slot reused) and is what
// compare_and_set replaces and share_lock locks. The columns are found by
// name and type: a coord.lease_state whose columns no longer match raises
// 55000 rather than being read.
class LeaseRowRead {
public:
    LeaseRowRead(std::string_view name, LeaseAccess access);
    ~LeaseRowRead();
    LeaseRowRead(const LeaseRowRead&) = delete;
    LeaseRowRead& operator=(const LeaseRowRead&) = delete;

    // nullopt: the name has no row.
    const std::optional<LeaseRecord>& current() const { return current_; }

    // (change) Replaces the row version read with `next`: directly (heap_update
    // of the version read, only its mapped columns replaced) when the table
    // may be written so (direct_write.hpp), else by an UPDATE that matches the
    // values read, which lets the executor fire triggers, check constraints
    // and refuse what it refuses. With `wait`, a concurrent writer is waited
    // out (then done or changed); without, it never waits for another
    // transaction. The caller has a row (current()).
    SetResult compare_and_set(Spi& spi, const LeaseRecord& next, bool wait = true);

    // (lock) Share-locks the row version read, as SELECT ... FOR SHARE does: a
    // change of the lease then waits until this transaction ends, and this
    // waits for a change in progress. False when another transaction changed
    // the row since it was read (the caller re-reads).
    bool share_lock();

private:
    std::string name_;
    std::optional<LeaseRecord> current_;
    // The stored values as read (NULL included), for the SQL compare-and-set.
    std::optional<Micros> seen_acquired_at_, seen_expires_at_;
    // The row version read (lock and change only): its address, the snapshot
    // it was read with (registered until the destructor) and, for a change,
    // a palloc'd copy of it.
    ItemPointerData tid_{};
    Snapshot snapshot_ = nullptr;
    HeapTuple old_ = nullptr;
};

// The lease's state as this statement sees it, without a lock.
std::optional<LeaseRecord> read_lease_row(std::string_view name);
// The same with the latest snapshot: every transaction committed by now.
std::optional<LeaseRecord> read_latest_lease_row(std::string_view name);

// Who decides the lease's next state (the wait-for graph, waiting.hpp):
// another open transaction writing its row (top-level xid), or this
// transaction (mine), as a dirty-snapshot index probe sees it; else the
// committed row decides. Waits for nothing.
struct LeaseRowWriter {
    TransactionId other = InvalidTransactionId;
    bool mine = false;
};
LeaseRowWriter lease_row_writer(std::string_view name);

// Inserts the first row of a name (INSERT ... ON CONFLICT (name) DO NOTHING,
// through the executor); false when a concurrent session inserted it.
bool insert_first_lease_row(Spi& spi, std::string_view name, const LeaseRecord& first);

// The same insert for a caller that must not wait for another transaction
// (the waiting path): another transaction's insert of the name that is still
// in progress makes the name busy; its acquire noted the name
// (note_lease_touched), so its end wakes the first waiter. The look-up
// (a dirty-snapshot index probe) leaves a moment before the insert in which
// such an insert can begin, so the insert itself waits at most
// kShortestLockWait (lock_wait.hpp) for it, then gives up: busy.
enum class FirstInsert { inserted, exists, busy };
FirstInsert insert_first_lease_row_without_waiting(Spi& spi, std::string_view name,
                                                   const LeaseRecord& first);

// The waiting path's SQL (waiting_acquire.cpp), row-locking inside its
// subtransaction: the row locked FOR NO KEY UPDATE SKIP LOCKED (nullopt: no
// row, or locked by another transaction), the row without a lock, and the
// holding written into the row this transaction has locked.
std::optional<LeaseRecord> lock_lease_row_skip_locked(Spi& spi, std::string_view name);
std::optional<LeaseRecord> peek_lease_row(Spi& spi, std::string_view name);
void write_locked_lease_row(Spi& spi, std::string_view name, const LeaseRecord& holding);

}  // namespace coord::pg
