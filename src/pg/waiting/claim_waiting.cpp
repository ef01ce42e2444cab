// Claimers waiting in coord.claim(wait_for): see claim_waiting.hpp.
//
// Locking: the waiters' table is changed under its LWLock (exclusive) and
// read by wakers under it (shared); nothing under it can raise or throw.
// A waiter registers, then tries (a fresh snapshot); a waker commits, then
// reads the table: the lock's barriers make sure that either the try sees
// the commit or the waker sees the registration and sets the latch.
#include "pg/waiting/claim_waiting.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/guard.hpp"

extern "C" {
#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"
}

#include <algorithm>
#include <cstring>
#include <limits>

namespace coord::pg {

namespace {

constexpr int kBuckets = 1024;
constexpr int kWords = kBuckets / 64;

struct ClaimWaiter {
    bool active;
    Oid database;
    std::uint64_t buckets[kWords];
};

struct ClaimWaitShared {
    LWLock* lock;
    pg_atomic_uint32 waiting;  // read without the lock as a fast "nobody waits"
    int nbackends;
    // The background worker that sends NOTIFY coord_tasks for enqueues of
    // its database (announce_by_worker_at_commit): InvalidOid when none.
    pg_atomic_uint32 announcer_database;
    pg_atomic_uint32 announcer_procno;
    pg_atomic_uint32 announce_requested;  // set by committers, taken by the worker
    // Per database (the sweep of one database must not take another's):
    // the hint as biased Micros (see biased()), ordered as unsigned. A
    // database without a slot (all taken) always looks.
    struct DueHint {
        pg_atomic_uint32 database;  // InvalidOid: free
        pg_atomic_uint64 hint;
    } due[64];
};

constexpr std::uint64_t kNothingScheduled = UINT64_MAX;
std::uint64_t biased(Micros t) { return static_cast<std::uint64_t>(t) ^ (std::uint64_t{1} << 63); }
Micros unbiased(std::uint64_t v) { return static_cast<Micros>(v ^ (std::uint64_t{1} << 63)); }


ClaimWaitShared* shared = nullptr;
ClaimWaiter* waiters = nullptr;

// This database's hint (a new slot starts at "look"); nullptr when no slot is free.
pg_atomic_uint64* due_hint_of_this_database() noexcept {
    if (shared == nullptr || !OidIsValid(MyDatabaseId)) return nullptr;
    for (auto& d : shared->due)
        if (pg_atomic_read_u32(&d.database) == MyDatabaseId) return &d.hint;
    for (auto& d : shared->due) {
        std::uint32_t expected = InvalidOid;
        if (pg_atomic_read_u32(&d.database) == InvalidOid &&
            pg_atomic_compare_exchange_u32(&d.database, &expected, MyDatabaseId))
            return &d.hint;
        if (expected == MyDatabaseId) return &d.hint;  // taken for this database meanwhile
    }
    return nullptr;
}

void lower_due_hint(std::uint64_t value) noexcept {
    if (value == kNothingScheduled) return;
    pg_atomic_uint64* hint = due_hint_of_this_database();
    if (hint == nullptr) return;
    std::uint64_t seen = pg_atomic_read_u64(hint);
    while (value < seen && !pg_atomic_compare_exchange_u64(hint, &seen, value)) {
    }
}
bool registered_here = false;
bool exit_hook_registered = false;

shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

Size waiters_offset() { return MAXALIGN(sizeof(ClaimWaitShared)); }
Size shmem_size() { return add_size(waiters_offset(), mul_size(MaxBackends, sizeof(ClaimWaiter))); }

void claim_shmem_request() {
    if (prev_shmem_request) prev_shmem_request();
    RequestAddinShmemSpace(shmem_size());
    RequestNamedLWLockTranche("pg_coord_claim_waiting", 1);
}

void claim_shmem_startup() {
    if (prev_shmem_startup) prev_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    char* base = static_cast<char*>(ShmemInitStruct("pg_coord claim waiting", shmem_size(), &found));
    shared = reinterpret_cast<ClaimWaitShared*>(base);
    waiters = reinterpret_cast<ClaimWaiter*>(base + waiters_offset());
    if (!found) {
        std::memset(base, 0, shmem_size());
        shared->lock = &(GetNamedLWLockTranche("pg_coord_claim_waiting"))->lock;
        shared->nbackends = MaxBackends;
        pg_atomic_init_u32(&shared->waiting, 0);
        pg_atomic_init_u32(&shared->announcer_database, InvalidOid);
        pg_atomic_init_u32(&shared->announcer_procno, 0);
        pg_atomic_init_u32(&shared->announce_requested, 0);
        for (auto& d : shared->due) {
            pg_atomic_init_u32(&d.database, InvalidOid);
            pg_atomic_init_u64(&d.hint, biased(0));  // the first sweep looks
        }
    }
    LWLockRelease(AddinShmemInitLock);
}

int bucket_of(std::string_view queue) {
    std::uint32_t h = hash_bytes(reinterpret_cast<const unsigned char*>(queue.data()),
                                 static_cast<int>(queue.size()));
    return static_cast<int>(h % kBuckets);
}

void unregister() noexcept {
    if (shared == nullptr || !registered_here) return;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    ClaimWaiter& w = waiters[MyProc->pgprocno];
    if (w.active) {
        w.active = false;
        pg_atomic_fetch_sub_u32(&shared->waiting, 1);
    }
    LWLockRelease(shared->lock);
    registered_here = false;
}

void on_backend_exit(int, Datum) { unregister(); }

// Buckets to wake when this transaction commits, and when it ends either
// way: a few per transaction, kept as bucket numbers (nothing to allocate
// in the transaction callback). A bitmap makes each at most once.
std::uint64_t at_commit[kWords];
std::uint64_t at_end[kWords];
bool any_at_commit = false;
bool any_at_end = false;
// The earliest run_at of pending tasks this transaction wrote, and the hint
// a sweep in it took (given back if it aborts).
std::uint64_t due_at_commit = kNothingScheduled;
std::uint64_t taken_hint = kNothingScheduled;
// This transaction left NOTIFY coord_tasks to the worker: set its latch at commit.
bool wake_announcer = false;

void wake_announcer_now() noexcept {
    if (shared == nullptr) return;
    pg_atomic_write_u32(&shared->announce_requested, 1);
    pg_memory_barrier();
    if (pg_atomic_read_u32(&shared->announcer_database) == InvalidOid) return;  // gone: its successor's first sweep looks
    std::uint32_t procno = pg_atomic_read_u32(&shared->announcer_procno);
    if (procno < static_cast<std::uint32_t>(ProcGlobal->allProcCount))
        SetLatch(&GetPGProcByNumber(procno)->procLatch);
}

void clear_pending() noexcept {
    if (any_at_commit) std::memset(at_commit, 0, sizeof at_commit);
    if (any_at_end) std::memset(at_end, 0, sizeof at_end);
    any_at_commit = any_at_end = false;
}

void wake(bool committed) noexcept {
    if (!any_at_end && !(committed && any_at_commit)) return;
    if (shared != nullptr) {
        pg_memory_barrier();  // the commit is visible before the table is read
        if (pg_atomic_read_u32(&shared->waiting) > 0) {
            std::uint64_t mask[kWords];
            for (int k = 0; k < kWords; ++k) mask[k] = at_end[k] | (committed ? at_commit[k] : 0);
            LWLockAcquire(shared->lock, LW_SHARED);
            for (int p = 0; p < shared->nbackends; ++p) {
                const ClaimWaiter& w = waiters[p];
                if (!w.active || w.database != MyDatabaseId) continue;
                bool hit = false;
                for (int k = 0; k < kWords && !hit; ++k) hit = (w.buckets[k] & mask[k]) != 0;
                if (hit) SetLatch(&GetPGProcByNumber(p)->procLatch);
            }
            LWLockRelease(shared->lock);
        }
    }
    clear_pending();
}

void claim_xact_callback(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
            lower_due_hint(due_at_commit);
            due_at_commit = taken_hint = kNothingScheduled;
            wake(true);
            if (wake_announcer) wake_announcer_now();
            wake_announcer = false;
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            unregister();  // only if an error skipped the destructor
            lower_due_hint(taken_hint);
            due_at_commit = taken_hint = kNothingScheduled;
            wake_announcer = false;
            wake(false);
            break;
        case XACT_EVENT_PREPARE:
            // COMMIT PREPARED may run in another backend: its waiters are
            // woken by the next change of the queue, or their wait runs out.
            // Its scheduled tasks are made known now (early is harmless: a
            // sweep looks and finds nothing due yet).
            lower_due_hint(due_at_commit);
            lower_due_hint(taken_hint);
            due_at_commit = taken_hint = kNothingScheduled;
            if (wake_announcer) wake_announcer_now();  // early: the worker looks again at its next sweep
            wake_announcer = false;
            clear_pending();
            break;
        default:
            break;
    }
}

void note(std::uint64_t* bits, bool& any, std::string_view queue) {
    int b = bucket_of(queue);
    bits[b / 64] |= std::uint64_t{1} << (b % 64);
    any = true;
}

}  // namespace

void define_claim_waiting() {
    RegisterXactCallback(claim_xact_callback, nullptr);
    if (!process_shared_preload_libraries_in_progress) return;
    prev_shmem_request = shmem_request_hook;
    shmem_request_hook = claim_shmem_request;
    prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = claim_shmem_startup;
}

void wake_claimers_at_commit(std::string_view queue) { note(at_commit, any_at_commit, queue); }

void wake_claimers_at_end(std::string_view queue) { note(at_end, any_at_end, queue); }

ClaimWaitRegistration::ClaimWaitRegistration(const std::vector<std::string>& queues) {
    if (shared == nullptr) return;  // the caller checked waiting_available()
    if (!exit_hook_registered) {
        pg_call([] { before_shmem_exit(on_backend_exit, 0); });
        exit_hook_registered = true;
    }
    std::uint64_t bits[kWords] = {};
    for (const std::string& q : queues) {
        int b = bucket_of(q);
        bits[b / 64] |= std::uint64_t{1} << (b % 64);
    }
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    ClaimWaiter& w = waiters[MyProc->pgprocno];
    if (!w.active) pg_atomic_fetch_add_u32(&shared->waiting, 1);
    w.active = true;
    w.database = MyDatabaseId;
    std::memcpy(w.buckets, bits, sizeof bits);
    LWLockRelease(shared->lock);
    registered_here = true;
}

ClaimWaitRegistration::~ClaimWaitRegistration() { unregister(); }

void ClaimWaitRegistration::sleep_until(Micros until) const {
    Micros now = now_micros();
    long timeout_ms = until > now ? static_cast<long>((until - now + 999) / 1000) : 0;
    pg_call([&] {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms,
                        PG_WAIT_EXTENSION);
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
    });
}

void note_task_due_at(Micros run_at) { due_at_commit = std::min(due_at_commit, biased(run_at)); }

Micros take_due_hint() {
    pg_atomic_uint64* slot = due_hint_of_this_database();
    if (slot == nullptr) return 0;  // no shared memory, or no slot: look at every due task
    std::uint64_t hint = pg_atomic_exchange_u64(slot, kNothingScheduled);
    taken_hint = std::min(taken_hint, hint);
    return hint == kNothingScheduled ? std::numeric_limits<Micros>::max() : unbiased(hint);
}

void give_due_hint(Micros earliest) {
    if (earliest == std::numeric_limits<Micros>::max()) return;
    lower_due_hint(biased(earliest));
}

bool announce_by_worker_at_commit(Micros run_at) {
    if (shared == nullptr || !OidIsValid(MyDatabaseId) ||
        pg_atomic_read_u32(&shared->announcer_database) != MyDatabaseId ||
        due_hint_of_this_database() == nullptr)
        return false;
    note_task_due_at(run_at);
    wake_announcer = true;
    return true;
}

void on_announcer_exit(int, Datum) {
    if (shared != nullptr && pg_atomic_read_u32(&shared->announcer_procno) ==
                                 static_cast<std::uint32_t>(MyProc->pgprocno))
        pg_atomic_write_u32(&shared->announcer_database, InvalidOid);
}

void register_announcer() {
    if (shared == nullptr || !OidIsValid(MyDatabaseId)) return;
    pg_call([] { before_shmem_exit(on_announcer_exit, 0); });
    pg_atomic_write_u32(&shared->announcer_procno, static_cast<std::uint32_t>(MyProc->pgprocno));
    pg_memory_barrier();
    pg_atomic_write_u32(&shared->announcer_database, MyDatabaseId);
}

bool take_announce_request() {
    return shared != nullptr && pg_atomic_exchange_u32(&shared->announce_requested, 0) != 0;
}

int claim_waiters() {
    return shared == nullptr ? 0 : static_cast<int>(pg_atomic_read_u32(&shared->waiting));
}

}  // namespace coord::pg
