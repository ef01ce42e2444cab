// Internal to src/pg/waiting: the shared-memory layout and what its files
// share. Public interface: waiting.hpp.
//
// Shared memory (waiting_shmem.cpp):
//  * a shared hash (dynahash, partitioned as lock.c's lock table) keyed by
//    (database oid, lease name); each entry is the FIFO queue of the requests
//    waiting for that name, a list of WaitSlots in arrival order (head: the
//    first waiter, O(1));
//  * coord.max_wait_slots WaitSlots (one per (request, name)) on a free list;
//  * one BackendWait per backend (indexed by pgprocno): the waiting request;
//  * the owners each session acted as (wait-for graph), the ring of detected
//    deadlocks not yet written, the hand-offs whose waiter left.
//
// Locks (one named tranche): kPartitions partition locks, each protecting the
// queues whose hash falls in it (waits on names of different partitions never
// share a lock); one lock per backend for its BackendWait; one "misc" lock for
// the session owners, the deadlock ring and the orphaned hand-offs. Order:
// partition locks (ascending) -> backend locks (ascending procno) -> misc.
// Nothing under a lock raises or throws (plain copies and comparisons), so
// every lock is released by the code that took it (LockGuard).
#pragma once

#include "core/common/validate.hpp"
#include "core/leases/lease.hpp"
#include "core/waiting/wait_graph.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/pg_headers.hpp"
#include "pg/common/spi.hpp"

extern "C" {
#include "lib/ilist.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
}

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord::pg::waiting {

constexpr std::size_t kNameSize = kMaxNameBytes + 1;
constexpr std::size_t kOwnerSize = kMaxOwnerBytes + 1;
constexpr std::size_t kCycleTextSize = 4096;
constexpr std::size_t kCycleJsonSize = 6144;
constexpr std::size_t kReasonSize = 768;
constexpr int kRingSize = 32;
constexpr int kOrphanSize = 256;    // hand-offs whose waiter left, at most this many at once
constexpr int kSessionOwners = 8;   // owners kept per session
constexpr int kPartitions = 16;     // power of two (dynahash partitions)

// ---- layout -------------------------------------------------------------------

enum class BackendState : std::uint8_t { idle, waiting, victim };

// Protected by backend_lock(procno).
struct BackendWait {
    BackendState state;
    Oid database;
    int pid;
    std::uint64_t request;  // arrival number of the current request (0: none)
    TimestampTz since;
    TimestampTz deadline;
    Micros ttl;      // of the holding asked for
    int name_count;  // names in the request; only single-name ones are handed leases
    // A release promised this request the holding `handed_token`, written
    // by transaction `handed_by` (0: no promise).
    Token handed_token;
    TransactionId handed_by;
    Oid role;  // the waiting call's role: a hand-off's holding belongs to it
    char owner[kOwnerSize];
    // Filled by the backend that chose this request as a deadlock victim.
    char victim_name[kNameSize];
    char victim_detail[kCycleTextSize + kReasonSize + 64];
};

// The hash key: zero-padded so that it is compared and hashed by its text.
struct NameKey {
    Oid database;
    char name[kNameSize];
};

// One entry of the shared hash: the requests waiting for key.name, oldest
// first. Protected by the partition lock of the key's hash.
struct NameQueue {
    NameKey key;
    dlist_head waiters;  // of WaitSlot::in_queue
};

struct WaitSlot {
    dlist_node in_queue;  // in its NameQueue (partition lock)
    slist_node in_free;   // on the free list (free_lock)
    int procno;
    std::uint64_t request;
    NameQueue* queue;
};

enum class RecordState : std::uint8_t { free, pending, claimed };

struct DeadlockRecord {
    RecordState state;
    int claimed_by;  // pgprocno while claimed
    Oid database;
    std::uint64_t id;
    TimestampTz detected_at;
    int victim_pid;
    char victim_owner[kOwnerSize];
    char victim_name[kNameSize];
    char cycle_text[kCycleTextSize];
    char cycle_json[kCycleJsonSize];
    char reason[kReasonSize];
};

// A hand-off promised to a request that left the queue (cancelled, timed out,
// exited) without taking it: the holding `token` of `name` written for
// `owner` by transaction `by` (README, "Hand-off").
struct OrphanedHandoff {
    bool used;
    Oid database;
    TransactionId by;
    Token token;
    char owner[kOwnerSize];
    char name[kNameSize];
};

// The owners a session has acted as; indexed by pgprocno, valid while `pid`
// is that backend's (wait_state.hpp: such a session can still release).
struct SessionOwners {
    int pid;  // 0: unused
    Oid database;
    int count;
    bool overflow;  // acted as more owners than kept: counts as a session of every owner
    char owners[kSessionOwners][kOwnerSize];
};

struct WaitShared {
    LWLockPadded* locks;  // kPartitions partitions, misc, then one per backend
    pg_atomic_uint64 next_request;
    pg_atomic_uint32 used_slots;  // read without a lock as a fast "nobody waits"
    int nbackends;
    int nslots;
    slock_t free_lock;
    slist_head free_slots;
    // misc lock:
    std::uint64_t next_deadlock_id;
    std::uint64_t deadlocks_dropped;  // ring overflow: oldest pending record overwritten
    DeadlockRecord ring[kRingSize];
    std::uint64_t orphans_dropped;  // orphan table full: left to expire
    OrphanedHandoff orphans[kOrphanSize];
};

extern WaitShared* shared;
extern BackendWait* backends;
extern WaitSlot* slots;
extern SessionOwners* session_owners;
extern HTAB* queues;
extern int deadlock_timeout_ms;
extern int queue_depth_alert;

inline LWLock* partition_lock(int partition) { return &shared->locks[partition].lock; }
inline LWLock* misc_lock() { return &shared->locks[kPartitions].lock; }
inline LWLock* backend_lock(int procno) { return &shared->locks[kPartitions + 1 + procno].lock; }
constexpr int lock_count(int nbackends) { return kPartitions + 1 + nbackends; }

class LockGuard {
public:
    LockGuard(LWLock* lock, LWLockMode mode) : lock_(lock) { LWLockAcquire(lock_, mode); }
    ~LockGuard() { LWLockRelease(lock_); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    LWLock* lock_;
};

// A name of a database as the hash sees it.
struct NameRef {
    NameKey key;
    std::uint32_t hash;
    int partition() const { return static_cast<int>(hash % kPartitions); }
};
NameRef name_ref(Oid database, std::string_view name);

// Holds the partition locks of a set of names, ascending (or all of them).
class PartitionLocks {
public:
    PartitionLocks(const std::vector<NameRef>& names, LWLockMode mode);
    explicit PartitionLocks(LWLockMode mode);  // every partition
    ~PartitionLocks();
    PartitionLocks(const PartitionLocks&) = delete;
    PartitionLocks& operator=(const PartitionLocks&) = delete;

private:
    std::vector<int> held_;
};

// The queue of a name, or nullptr (its partition lock held).
NameQueue* find_queue(const NameRef& ref);
// (ilist.h's container macros are C only.)
inline WaitSlot* slot_of_queue_node(dlist_node* node) {
    return reinterpret_cast<WaitSlot*>(reinterpret_cast<char*>(node) - offsetof(WaitSlot, in_queue));
}
inline WaitSlot* slot_of_free_node(slist_node* node) {
    return reinterpret_cast<WaitSlot*>(reinterpret_cast<char*>(node) - offsetof(WaitSlot, in_free));
}
inline WaitSlot* head_of(NameQueue* q) {
    return dlist_is_empty(&q->waiters) ? nullptr : slot_of_queue_node(q->waiters.head.next);
}

// Copies at most size - 1 bytes, never cutting a UTF-8 sequence in half.
void copy_text(char* dest, std::size_t size, std::string_view src);
void wake(int procno);

// ---- this backend's request (waiting_queue.cpp) ------------------------------

extern std::uint64_t my_request;  // 0: not waiting

struct Promise {
    Token token;
    TransactionId by;
};

// What leave_queue does with a hand-off promised to the request: records it
// as orphaned (the default: the request gave up), gives it to the caller,
// who takes it or abandons it (abandon_promise), or drops it (taken).
enum class PromiseFate { orphan, to_caller, taken };

// Removes this backend's request (if any) and wakes the new head of every
// queue it headed. Returns true (and the victim detail) when it had been
// chosen as a deadlock victim; passes on the hand-off promised to it as
// `fate` says. Called on every exit path; idempotent.
bool leave_queue(std::string* victim_name = nullptr, std::string* victim_detail = nullptr,
                 std::optional<Promise>* promise = nullptr, PromiseFate fate = PromiseFate::orphan);

// The request of this backend while it waits (constructor queues it,
// destructor leaves the queue).
class Registration {
public:
    Registration(std::string_view owner, Oid role, const std::vector<std::string>& names,
                 Micros since, Micros deadline, Micros ttl);
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() { leave_queue(); }

    bool at_head() const;  // first in every name's queue
    bool chosen_as_victim() const;
    std::optional<Promise> promise() const;
    // A promise found unkept: forget it, unless a newer one replaced it.
    void forget(const Promise& p) const;
};

// The waiting requests of a database, sorted by name, then arrival.
struct WaiterCopy {
    int procno;
    int pid;
    std::uint64_t request;
    std::string owner;
    std::string name;
    Micros since;
    Micros deadline;
};
std::vector<WaiterCopy> copy_waiters(Oid db);

// Wakes the first waiter of every name this transaction touched (commit or
// abort); forgets them (also on PREPARE: forget_touched).
void wake_heads_of_touched() noexcept;
void forget_touched() noexcept;

// ---- hand-offs (waiting_handoff.cpp) --------------------------------------------

extern bool promised_in_xact;  // this transaction promised a hand-off
void record_orphan_locked(Oid db, TransactionId by, Token token, const char* owner, const char* name);
void abandon_promise(const Promise& p, std::string_view owner, std::string_view name);
bool promise_kept(const Promise& p, std::string_view owner, std::string_view name);
bool transaction_in_progress(TransactionId xid);
void wait_for_transaction_end(TransactionId xid);
void return_orphans_of_this_transaction();

// ---- deadlocks (waiting_deadlock.cpp, waiting_history.cpp) ----------------------

// Every edge the detector uses (coord.wait_graph): a waiting request's block
// on one of its names. kind: committed (the live committed holder, an owner),
// uncommitted (the open transaction writing the name's lease row), queued
// (the request ahead in the name's queue); holder_pid for a session.
struct EdgeRow {
    std::string waiter;
    int waiter_pid = 0;
    std::string name;
    std::string holder;
    std::optional<int> holder_pid;
    Micros waiting_since = 0;
    std::string edge;  // held | queued (as in a cycle's jsonb)
    std::string kind;
};
std::vector<EdgeRow> current_edges();

[[noreturn]] void throw_victim(const std::string& name, const std::string& detail);
bool check_deadlock_through_me();
// A new history record for a victim (misc lock held).
void add_deadlock_record_locked(const WaitCycle& cycle, const std::string& text, const std::string& json,
                                const std::string& reason, int victim_pid, Micros now);
bool records_may_be_written_here();
bool pending_records_exist();
// Claimed records of subtransactions >= from_subxact settled: written
// (committed) or pending again (aborted).
void settle_claimed_records(bool committed, SubTransactionId from_subxact = InvalidSubTransactionId) noexcept;
void claimed_records_to_parent(SubTransactionId sub, SubTransactionId parent) noexcept;

// ---- sessions (waiting_sessions.cpp) --------------------------------------------

struct SessionOwnersCopy {
    int procno;
    int pid;
    bool overflow;
    std::vector<std::string> owners;
};
std::vector<SessionOwnersCopy> copy_session_owners(Oid db);

}  // namespace coord::pg::waiting
