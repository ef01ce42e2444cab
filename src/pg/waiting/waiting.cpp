// Waiting for leases in shared memory: see waiting.hpp for the layout.
//
// Locking: every access to the shared structures holds the one LWLock
// (shared to read, exclusive to change); nothing under it can raise or
// throw (plain copies and comparisons only), so the lock is always released
// by the code that took it.
#include "core/common/error.hpp"
#include "core/common/error_capture.hpp"
#include "core/common/validate.hpp"
#include "core/waiting/wait_graph.hpp"
#include "core/waiting/wait_state.hpp"
#include "pg/leases/lease_row.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/lock_wait.hpp"
#include "pg/leases/leases.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "access/xact.h"
#include "common/hashfn.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/snapmgr.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
#include "utils/wait_event.h"
}

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_set>

namespace coord::pg {

namespace {

// ---- GUCs -----------------------------------------------------------------

int deadlock_timeout_ms = 1000;
int queue_depth_alert = 10;
int max_wait_slots = 4096;

// ---- shared memory ----------------------------------------------------------

constexpr std::size_t kNameSize = kMaxNameBytes + 1;
constexpr std::size_t kOwnerSize = kMaxOwnerBytes + 1;
constexpr std::size_t kCycleTextSize = 4096;
constexpr std::size_t kCycleJsonSize = 6144;
constexpr std::size_t kReasonSize = 768;
constexpr int kRingSize = 32;
// Hand-offs whose waiter left before taking them (at most this many at once).
constexpr int kOrphanSize = 256;
// How long a wait that ran out waits on for a release that is handing it the
// lease to commit (part of the margin wait_for may be overrun by).
constexpr Micros kHandoffCommitMargin = 100 * 1000;

enum class BackendState : std::uint8_t { idle, waiting, victim };

struct BackendWait {
    BackendState state;
    Oid database;
    int pid;
    std::uint64_t request;  // arrival number of the current request
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

struct WaitSlot {
    bool used;
    int procno;
    std::uint64_t request;
    Oid database;
    std::uint32_t name_hash;
    char name[kNameSize];
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
// `owner` by transaction `by`. Returned (freed or handed on) by that
// transaction before it commits, else by the next sweep (or the first one
// after `by` commits) -- README, "Hand-off".
struct OrphanedHandoff {
    bool used;
    Oid database;
    TransactionId by;
    Token token;
    char owner[kOwnerSize];
    char name[kNameSize];
};

// The owners a session has acted as (acquired, renewed, released or waited
// as), for the wait-for graph: a session of an owner that is not waiting can
// still release that owner's holdings (wait_state.hpp). Indexed by pgprocno;
// valid while `pid` is that backend's.
constexpr int kSessionOwners = 8;
struct SessionOwners {
    int pid;  // 0: unused
    Oid database;
    int count;
    bool overflow;  // acted as more owners than kept: counts as a session of every owner
    char owners[kSessionOwners][kOwnerSize];
};

struct WaitShared {
    LWLock* lock;
    std::uint64_t next_request;
    std::uint64_t next_deadlock_id;
    std::uint64_t deadlocks_dropped;  // ring overflow: oldest pending record overwritten
    pg_atomic_uint32 used_slots;      // read without the lock as a fast "nobody waits"
    int nbackends;
    int nslots;
    DeadlockRecord ring[kRingSize];
    std::uint64_t orphans_dropped;  // orphan table full: left to expire
    OrphanedHandoff orphans[kOrphanSize];
};

WaitShared* shared = nullptr;
BackendWait* backends = nullptr;
WaitSlot* slots = nullptr;
SessionOwners* session_owners = nullptr;

shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

Size backends_offset() { return MAXALIGN(sizeof(WaitShared)); }
Size slots_offset() { return add_size(backends_offset(), MAXALIGN(mul_size(MaxBackends, sizeof(BackendWait)))); }
Size session_owners_offset() { return add_size(slots_offset(), MAXALIGN(mul_size(max_wait_slots, sizeof(WaitSlot)))); }
Size shmem_size() { return add_size(session_owners_offset(), mul_size(MaxBackends, sizeof(SessionOwners))); }

void waiting_shmem_request() {
    if (prev_shmem_request) prev_shmem_request();
    RequestAddinShmemSpace(shmem_size());
    RequestNamedLWLockTranche("pg_coord_waiting", 1);
}

void waiting_shmem_startup() {
    if (prev_shmem_startup) prev_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    char* base = static_cast<char*>(ShmemInitStruct("pg_coord waiting", shmem_size(), &found));
    shared = reinterpret_cast<WaitShared*>(base);
    backends = reinterpret_cast<BackendWait*>(base + backends_offset());
    slots = reinterpret_cast<WaitSlot*>(base + slots_offset());
    session_owners = reinterpret_cast<SessionOwners*>(base + session_owners_offset());
    if (!found) {
        std::memset(base, 0, shmem_size());
        shared->lock = &(GetNamedLWLockTranche("pg_coord_waiting"))->lock;
        shared->next_request = 1;
        shared->next_deadlock_id = 1;
        shared->nbackends = MaxBackends;
        shared->nslots = max_wait_slots;
        pg_atomic_init_u32(&shared->used_slots, 0);
    }
    LWLockRelease(AddinShmemInitLock);
}

// Copies at most size - 1 bytes, never cutting a UTF-8 sequence in half.
void copy_text(char* dest, std::size_t size, std::string_view src) {
    std::size_t n = src.size();
    if (n >= size) {
        n = size - 4;
        while (n > 0 && (static_cast<unsigned char>(src[n]) & 0xC0) == 0x80) --n;
        std::memcpy(dest, src.data(), n);
        std::memcpy(dest + n, "...", 4);
        return;
    }
    std::memcpy(dest, src.data(), n);
    dest[n] = '\0';
}

std::uint32_t hash_name(std::string_view name) {
    return hash_bytes(reinterpret_cast<const unsigned char*>(name.data()), static_cast<int>(name.size()));
}

bool slot_is(const WaitSlot& s, Oid db, std::uint32_t hash, std::string_view name) {
    return s.used && s.database == db && s.name_hash == hash && name == s.name;
}

// The earliest request waiting for the name (lock held); -1 if none.
int head_slot(Oid db, std::uint32_t hash, std::string_view name) {
    int head = -1;
    for (int i = 0; i < shared->nslots; ++i)
        if (slot_is(slots[i], db, hash, name) &&
            (head < 0 || slots[i].request < slots[head].request))
            head = i;
    return head;
}

void wake(int procno) { SetLatch(&GetPGProcByNumber(procno)->procLatch); }

// ---- this backend's request -----------------------------------------------

std::uint64_t my_request = 0;  // 0: not waiting
bool exit_hook_registered = false;

// A hand-off promised to this backend's request (see promise_handoff).
struct Promise {
    Token token;
    TransactionId by;
};

// Removes this backend's request (if any) and wakes the new head of every
// queue it headed. Returns the victim detail when it had been chosen as a
// deadlock victim, and the hand-off promised to it, if any (after this no
// release can promise it one). Called on every exit path (normal return,
// C++ unwinding, transaction abort, backend exit); idempotent.
// Records a hand-off nobody will take (lock held).
void record_orphan_locked(Oid db, TransactionId by, Token token, const char* owner, const char* name) {
    OrphanedHandoff* free_entry = nullptr;
    for (OrphanedHandoff& o : shared->orphans)
        if (!o.used) { free_entry = &o; break; }
    if (free_entry == nullptr) {
        ++shared->orphans_dropped;  // the holding expires after its ttl
        return;
    }
    free_entry->used = true;
    free_entry->database = db;
    free_entry->by = by;
    free_entry->token = token;
    std::memcpy(free_entry->owner, owner, kOwnerSize);
    std::memcpy(free_entry->name, name, kNameSize);
}

// What leave_queue does with a hand-off promised to the request: records it
// as orphaned (the default: the request gave up), gives it to the caller,
// who takes it or abandons it (abandon_promise), or drops it (taken).
enum class PromiseFate { orphan, to_caller, taken };

bool leave_queue(std::string* victim_name = nullptr, std::string* victim_detail = nullptr,
                 std::optional<Promise>* promise = nullptr, PromiseFate fate = PromiseFate::orphan) {
    if (shared == nullptr || my_request == 0) return false;
    if (promise) fate = PromiseFate::to_caller;
    int me = MyProc->pgprocno;
    bool victim = false;
    bool orphan = false;
    Promise left{};
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    BackendWait& b = backends[me];
    if (b.request == my_request) {
        victim = b.state == BackendState::victim;
        if (victim && victim_detail) {
            *victim_name = b.victim_name;
            *victim_detail = b.victim_detail;
        }
        if (b.handed_token != 0) {
            if (fate == PromiseFate::to_caller) *promise = Promise{b.handed_token, b.handed_by};
            if (fate == PromiseFate::orphan) {
                orphan = true;
                left = Promise{b.handed_token, b.handed_by};
            }
        }
        b.state = BackendState::idle;
        b.request = 0;
        b.handed_token = 0;
    }
    for (int i = 0; i < shared->nslots; ++i) {
        WaitSlot& s = slots[i];
        if (!s.used || s.procno != me || s.request != my_request) continue;
        if (orphan) {
            record_orphan_locked(s.database, left.by, left.token, b.owner, s.name);
            orphan = false;
        }
        s.used = false;
        pg_atomic_fetch_sub_u32(&shared->used_slots, 1);
        int next = head_slot(s.database, s.name_hash, s.name);
        if (next >= 0 && slots[next].request > s.request) wake(slots[next].procno);
    }
    LWLockRelease(shared->lock);
    my_request = 0;
    return victim;
}

void on_backend_exit(int, Datum) { leave_queue(); }

// ---- wake-ups at transaction end and deadlock records claimed ---------------

// Lease names locked/written in this transaction: a hash set, so a
// transaction touching n names costs O(n), not O(n^2).
std::unordered_set<std::string> touched;
// Deadlock records inserted in this transaction, with the subtransaction
// that inserted them (a rolled-back subtransaction puts its records back).
struct Claim {
    std::uint64_t id;
    SubTransactionId subxact;
};
std::vector<Claim> claimed_records;

void wake_heads_of_touched() noexcept {
    if (touched.empty()) return;
    if (shared != nullptr && pg_atomic_read_u32(&shared->used_slots) > 0) {
        LWLockAcquire(shared->lock, LW_SHARED);
        for (const std::string& name : touched) {
            int head = head_slot(MyDatabaseId, hash_name(name), name);
            if (head >= 0) wake(slots[head].procno);
        }
        LWLockRelease(shared->lock);
    }
    touched.clear();
}

// Marks the claimed records of subtransactions >= from_subxact (all of
// them by default) written (committed) or pending again (aborted).
void settle_claimed_records(bool committed, SubTransactionId from_subxact = InvalidSubTransactionId) noexcept {
    if (claimed_records.empty() || shared == nullptr) {
        claimed_records.clear();
        return;
    }
    auto settles = [&](const Claim& c) { return c.subxact >= from_subxact; };
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    for (DeadlockRecord& r : shared->ring) {
        if (r.state != RecordState::claimed || r.claimed_by != MyProc->pgprocno) continue;
        for (const Claim& c : claimed_records)
            if (c.id == r.id && settles(c))
                r.state = committed ? RecordState::free : RecordState::pending;
    }
    LWLockRelease(shared->lock);
    claimed_records.erase(std::remove_if(claimed_records.begin(), claimed_records.end(), settles),
                          claimed_records.end());
}

void waiting_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
                              SubTransactionId parentSubid, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        settle_claimed_records(false, mySubid);
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (Claim& c : claimed_records)
            if (c.subxact >= mySubid) c.subxact = parentSubid;
    }
}

bool promised_in_xact = false;  // this transaction promised a hand-off
void return_orphans_of_this_transaction();

void waiting_xact_callback(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_PRE_COMMIT:
            if (promised_in_xact) return_orphans_of_this_transaction();
            break;
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
            promised_in_xact = false;
            wake_heads_of_touched();
            settle_claimed_records(true);
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
            promised_in_xact = false;
            leave_queue();  // only if an error skipped the normal exits
            wake_heads_of_touched();
            settle_claimed_records(false);
            break;
        case XACT_EVENT_PREPARE:
            promised_in_xact = false;  // a prepared hand-off is returned by a sweep
            // COMMIT PREPARED may run in another backend: waiters then fall
            // back to their periodic re-check (every deadlock_timeout).
            touched.clear();
            settle_claimed_records(false);
            break;
        default:
            break;
    }
}

// ---- registration -----------------------------------------------------------

class Registration {
public:
    Registration(std::string_view owner, Oid role, const std::vector<std::string>& names,
                 Micros since, Micros deadline, Micros ttl) {
        if (!exit_hook_registered) {
            pg_call([] { before_shmem_exit(on_backend_exit, 0); });
            exit_hook_registered = true;
        }
        leave_queue();  // a leftover of an earlier call cannot survive, but be sure
        int me = MyProc->pgprocno;
        bool full = false;
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        int free_slots = shared->nslots - static_cast<int>(pg_atomic_read_u32(&shared->used_slots));
        if (free_slots < static_cast<int>(names.size())) {
            full = true;
        } else {
            std::uint64_t request = shared->next_request++;
            BackendWait& b = backends[me];
            b.state = BackendState::waiting;
            b.database = MyDatabaseId;
            b.pid = MyProcPid;
            b.request = request;
            b.since = since;
            b.deadline = deadline;
            b.ttl = ttl;
            b.name_count = static_cast<int>(names.size());
            b.handed_token = 0;
            b.handed_by = InvalidTransactionId;
            b.role = role;
            copy_text(b.owner, sizeof b.owner, owner);
            b.victim_name[0] = b.victim_detail[0] = '\0';
            std::size_t placed = 0;
            for (int i = 0; i < shared->nslots && placed < names.size(); ++i) {
                WaitSlot& s = slots[i];
                if (s.used) continue;
                s.used = true;
                s.procno = me;
                s.request = request;
                s.database = MyDatabaseId;
                s.name_hash = hash_name(names[placed]);
                copy_text(s.name, sizeof s.name, names[placed]);
                ++placed;
                pg_atomic_fetch_add_u32(&shared->used_slots, 1);
            }
            my_request = request;
        }
        LWLockRelease(shared->lock);
        if (full)
            throw Error(sqlstate::insufficient_resources,
                        fmt::format("no room to queue a wait for {} lease name(s)", names.size()),
                        fmt::format("All {} wait slots are in use.", shared->nslots),
                        "Raise coord.max_wait_slots (needs a server restart).");
        names_ = names;
        for (const std::string& n : names_) hashes_.push_back(hash_name(n));
    }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;
    ~Registration() { leave_queue(); }

    std::uint64_t request() const { return my_request; }

    // At the head of every name's queue: nobody arrived earlier.
    bool at_head() const {
        bool head = true;
        LWLockAcquire(shared->lock, LW_SHARED);
        for (int i = 0; i < shared->nslots && head; ++i) {
            const WaitSlot& s = slots[i];
            if (!s.used || s.request >= my_request || s.database != MyDatabaseId) continue;
            for (std::size_t k = 0; k < names_.size(); ++k)
                if (s.name_hash == hashes_[k] && names_[k] == s.name) head = false;
        }
        LWLockRelease(shared->lock);
        return head;
    }

    bool chosen_as_victim() const {
        LWLockAcquire(shared->lock, LW_SHARED);
        bool victim = backends[MyProc->pgprocno].state == BackendState::victim;
        LWLockRelease(shared->lock);
        return victim;
    }

    std::optional<Promise> promise() const {
        std::optional<Promise> p;
        LWLockAcquire(shared->lock, LW_SHARED);
        const BackendWait& b = backends[MyProc->pgprocno];
        if (b.request == my_request && b.handed_token != 0) p = Promise{b.handed_token, b.handed_by};
        LWLockRelease(shared->lock);
        return p;
    }

    // A promise found unkept (its transaction rolled back, or the lease
    // moved on since): forget it, unless a newer one replaced it meanwhile.
    void forget(const Promise& p) const {
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        BackendWait& b = backends[MyProc->pgprocno];
        if (b.request == my_request && b.handed_token == p.token && b.handed_by == p.by)
            b.handed_token = 0;
        LWLockRelease(shared->lock);
    }

private:
    std::vector<std::string> names_;
    std::vector<std::uint32_t> hashes_;
};

[[noreturn]] void throw_victim(const std::string& name, const std::string& detail) {
    metrics::count_now(metrics::Counter::deadlocks);
    throw Error(sqlstate::deadlock_detected,
                fmt::format("deadlock detected while waiting for lease \"{}\"", name), detail,
                "This wait was cancelled to break the cycle; the other owners keep waiting. Release "
                "the leases this owner holds (or let them expire) and retry.");
}

// ---- the wait-for graph -------------------------------------------------------

struct WaiterCopy {
    int procno;
    int pid;
    std::uint64_t request;
    std::string owner;
    std::string name;
    Micros since;
};

std::vector<WaiterCopy> copy_waiters(Oid db) {
    std::vector<WaiterCopy> out;
    if (pg_atomic_read_u32(&shared->used_slots) == 0) return out;
    // Copy the raw data under the lock, build strings after releasing it.
    struct Raw {
        int procno;
        int pid;
        std::uint64_t request;
        TimestampTz since;
        char owner[kOwnerSize];
        char name[kNameSize];
    };
    // Sized by the used-slot count read before the lock (no allocation
    // under it); if more slots filled up meanwhile, copy again.
    std::vector<Raw> raw;
    std::size_t n = 0;
    for (bool complete = false; !complete;) {
        raw.resize(pg_atomic_read_u32(&shared->used_slots) + 16);
        n = 0;
        complete = true;
        LWLockAcquire(shared->lock, LW_SHARED);
        for (int i = 0; i < shared->nslots; ++i) {
            const WaitSlot& s = slots[i];
            if (!s.used || s.database != db) continue;
            const BackendWait& b = backends[s.procno];
            if (b.request != s.request || b.state != BackendState::waiting) continue;
            if (n == raw.size()) {
                complete = false;
                break;
            }
            Raw& r = raw[n++];
            r.procno = s.procno;
            r.pid = b.pid;
            r.request = s.request;
            r.since = b.since;
            std::memcpy(r.owner, b.owner, kOwnerSize);
            std::memcpy(r.name, s.name, kNameSize);
        }
        LWLockRelease(shared->lock);
    }
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back({raw[i].procno, raw[i].pid, raw[i].request, raw[i].owner, raw[i].name, raw[i].since});
    std::sort(out.begin(), out.end(), [](const WaiterCopy& a, const WaiterCopy& b) {
        return a.name != b.name ? a.name < b.name : a.request < b.request;
    });
    return out;
}

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
    {
        // Copy the records under the lock, build strings after releasing it.
        std::vector<SessionOwners> raw(static_cast<std::size_t>(shared->nbackends));
        std::vector<int> procnos(raw.size());
        std::size_t n = 0;
        LWLockAcquire(shared->lock, LW_SHARED);
        for (int p = 0; p < shared->nbackends; ++p) {
            const SessionOwners& r = session_owners[p];
            if (r.pid == 0 || r.database != MyDatabaseId || GetPGProcByNumber(p)->pid != r.pid) continue;
            procnos[n] = p;
            raw[n++] = r;
        }
        LWLockRelease(shared->lock);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t s = session_of(procnos[i], raw[i].pid);
            any_owner[s] = raw[i].overflow;
            for (int k = 0; k < raw[i].count && k < kSessionOwners; ++k) acts_as[s].emplace_back(raw[i].owners[k]);
        }
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

// Marks the victim of `cycle` if every request in it is still waiting.
// Returns true when a victim was marked.
bool cancel_victim(const WaitCycle& found, const VictimChoice& victim, Micros now) {
    // Reported from the victim's wait on, whoever found the cycle.
    WaitCycle cycle = rotate_cycle(found, victim.edge);
    std::string text = describe_cycle(cycle);
    std::string json = cycle_json(cycle);
    const WaitEdge& v = cycle.edges.front();
    std::string detail = fmt::format("Cycle: {}. Victim: \"{}\" waiting for \"{}\" ({}).", text,
                                     v.waiter, v.name, victim.reason);
    bool marked = false;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    int victim_proc = -1;
    bool all_waiting = true;
    for (const WaitEdge& e : cycle.edges) {
        int proc = -1;
        for (int p = 0; p < shared->nbackends; ++p)
            if (backends[p].request == e.request && backends[p].state == BackendState::waiting &&
                backends[p].database == MyDatabaseId && backends[p].handed_token == 0)
                proc = p;
        if (proc < 0) all_waiting = false;
        if (e.request == victim.request) victim_proc = proc;
    }
    if (all_waiting && victim_proc >= 0) {
        BackendWait& b = backends[victim_proc];
        b.state = BackendState::victim;
        copy_text(b.victim_name, sizeof b.victim_name, v.name);
        copy_text(b.victim_detail, sizeof b.victim_detail, detail);
        // The history record: a free entry, else the oldest pending one.
        DeadlockRecord* slot = nullptr;
        for (DeadlockRecord& r : shared->ring)
            if (r.state == RecordState::free) { slot = &r; break; }
        if (slot == nullptr) {
            for (DeadlockRecord& r : shared->ring)
                if (r.state == RecordState::pending && (slot == nullptr || r.id < slot->id)) slot = &r;
            if (slot) ++shared->deadlocks_dropped;
        }
        if (slot) {
            slot->state = RecordState::pending;
            slot->claimed_by = -1;
            slot->database = MyDatabaseId;
            slot->id = shared->next_deadlock_id++;
            slot->detected_at = now;
            slot->victim_pid = b.pid;
            copy_text(slot->victim_owner, sizeof slot->victim_owner, v.waiter);
            copy_text(slot->victim_name, sizeof slot->victim_name, v.name);
            copy_text(slot->cycle_text, sizeof slot->cycle_text, text);
            if (json.size() < sizeof slot->cycle_json)
                copy_text(slot->cycle_json, sizeof slot->cycle_json, json);
            else
                copy_text(slot->cycle_json, sizeof slot->cycle_json, "[]");  // too long to keep whole
            copy_text(slot->reason, sizeof slot->reason, victim.reason);
        }
        wake(victim_proc);
        marked = true;
    }
    LWLockRelease(shared->lock);
    return marked;
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

// A waiter inside an explicit transaction block leaves deadlock records to
// others (an autocommit waiter, the sweep): its transaction may stay open
// for long or roll back, and the ring's entries it claimed would stay
// unusable meanwhile (coord.deadlocks shows pending records all the same).
// Inside a subtransaction (a PL/pgSQL exception block) it writes them as
// before: IsTransactionBlock() cannot tell an autocommit statement's
// subtransaction from an explicit block there.
bool records_may_be_written_here() { return !IsTransactionBlock() || IsSubTransaction(); }

bool pending_records_exist() {
    if (shared == nullptr) return false;
    bool any = false;
    LWLockAcquire(shared->lock, LW_SHARED);
    for (const DeadlockRecord& r : shared->ring)
        if (r.state == RecordState::pending && r.database == MyDatabaseId) any = true;
    LWLockRelease(shared->lock);
    return any;
}

bool transaction_in_progress(TransactionId xid) {
    return pg_call([&] { return TransactionIdIsInProgress(xid); });
}

void wait_for_transaction_end(TransactionId xid) {
    pg_call([&] { XactLockTableWait(xid, nullptr, nullptr, XLTW_None); });
}

void abandon_promise(const Promise& p, std::string_view owner, std::string_view name) {
    char owner_buf[kOwnerSize];
    char name_buf[kNameSize];
    copy_text(owner_buf, sizeof owner_buf, owner);
    copy_text(name_buf, sizeof name_buf, name);
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    record_orphan_locked(MyDatabaseId, p.by, p.token, owner_buf, name_buf);
    LWLockRelease(shared->lock);
}

struct OrphanCopy {
    TransactionId by;
    Token token;
    std::string owner, name;
};

// Takes the orphaned hand-offs of this database that `pick` selects out of
// the table (lock held while picking: pick must not raise).
template <typename Pick>
std::vector<OrphanCopy> take_orphans(Pick&& pick) {
    std::vector<OrphanCopy> out;
    if (shared == nullptr) return out;
    std::vector<OrphanedHandoff> raw;
    raw.reserve(kOrphanSize);
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    for (OrphanedHandoff& o : shared->orphans) {
        if (!o.used || o.database != MyDatabaseId || !pick(o)) continue;
        raw.push_back(o);
        o.used = false;
    }
    LWLockRelease(shared->lock);
    for (const OrphanedHandoff& o : raw) out.push_back({o.by, o.token, o.owner, o.name});
    return out;
}

bool orphans_of(TransactionId xid) {
    if (shared == nullptr || !TransactionIdIsValid(xid)) return false;
    bool any = false;
    LWLockAcquire(shared->lock, LW_SHARED);
    for (const OrphanedHandoff& o : shared->orphans)
        if (o.used && o.database == MyDatabaseId && o.by == xid) any = true;
    LWLockRelease(shared->lock);
    return any;
}

// Read in a fresh snapshot (READ COMMITTED) once the promising transaction
// has ended.
bool promise_kept(const Promise& p, std::string_view owner, std::string_view name) {
    return handed_over_to(read_lease(name), owner, p.token, now_micros());
}

}  // namespace

// ---- public -----------------------------------------------------------------

void define_waiting() {
    DefineCustomIntVariable(
        "coord.deadlock_timeout",
        "How long a lease waiter waits before it checks for a deadlock through itself (and how "
        "often it checks again).",
        nullptr, &deadlock_timeout_ms, 1000, 1, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr,
        nullptr, nullptr);
    DefineCustomIntVariable(
        "coord.queue_depth_alert",
        "Raise the lease_queue_deep alert when more owners than this wait for one lease name.",
        nullptr, &queue_depth_alert, 10, 1, INT_MAX, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    RegisterXactCallback(waiting_xact_callback, nullptr);
    RegisterSubXactCallback(waiting_subxact_callback, nullptr);
    // Shared memory only exists when loaded at server start; a PGC_POSTMASTER
    // setting can only be defined then, too.
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable(
        "coord.max_wait_slots",
        "How many (waiting request, lease name) pairs shared memory holds at once.", nullptr,
        &max_wait_slots, 4096, 16, 1 << 20, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    prev_shmem_request = shmem_request_hook;
    shmem_request_hook = waiting_shmem_request;
    prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = waiting_shmem_startup;
}

bool waiting_available() { return shared != nullptr; }

void require_waiting_available() {
    if (!waiting_available())
        throw Error(sqlstate::object_not_in_prerequisite_state,
                    "waiting for a lease needs pg_coord in shared_preload_libraries",
                    "wait_for > 0 queues the caller in shared memory, which pg_coord can only "
                    "reserve when the server loads it at start.",
                    "Add pg_coord to shared_preload_libraries and restart the server, or call with "
                    "wait_for => '0'.");
}

std::optional<HandoffCandidate> first_waiter_of(std::string_view name) {
    if (shared == nullptr || pg_atomic_read_u32(&shared->used_slots) == 0) return std::nullopt;
    std::uint32_t hash = hash_name(name);
    bool found = false;
    HandoffCandidate c{};
    char owner[kOwnerSize];
    LWLockAcquire(shared->lock, LW_SHARED);
    int head = head_slot(MyDatabaseId, hash, name);
    if (head >= 0) {
        const WaitSlot& s = slots[head];
        const BackendWait& b = backends[s.procno];
        if (b.request == s.request && b.state == BackendState::waiting && b.name_count == 1) {
            found = true;
            c.procno = s.procno;
            c.request = s.request;
            c.ttl = b.ttl;
            c.role = b.role;
            std::memcpy(owner, b.owner, kOwnerSize);
        }
    }
    LWLockRelease(shared->lock);
    if (!found) return std::nullopt;
    c.owner = owner;
    return c;
}

bool promise_handoff(const HandoffCandidate& candidate, Token token) {
    TransactionId xid = pg_call([] { return GetTopTransactionId(); });
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    BackendWait& b = backends[candidate.procno];
    bool promised = b.request == candidate.request && b.state == BackendState::waiting;
    if (promised) {
        b.handed_token = token;
        b.handed_by = xid;
        promised_in_xact = true;
    }
    LWLockRelease(shared->lock);
    return promised;
}

bool someone_waits_for(std::string_view name) {
    if (shared == nullptr || pg_atomic_read_u32(&shared->used_slots) == 0) return false;
    std::uint32_t hash = hash_name(name);
    LWLockAcquire(shared->lock, LW_SHARED);
    bool found = head_slot(MyDatabaseId, hash, name) >= 0;
    LWLockRelease(shared->lock);
    return found;
}

void note_lease_touched(std::string_view name) {
    if (shared == nullptr) return;
    touched.emplace(name);
}

namespace {
std::vector<std::string> recorded_owners;  // this session's record, as kept in shared memory
bool recorded_any_owner = false;
bool session_exit_hook_registered = false;

void clear_session_record(int, Datum) {
    if (shared == nullptr || MyProc == nullptr) return;
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    SessionOwners& r = session_owners[MyProc->pgprocno];
    if (r.pid == MyProcPid) r.pid = 0;
    LWLockRelease(shared->lock);
}
}  // namespace

void note_owner_session(std::string_view owner) {
    if (shared == nullptr || recorded_any_owner || MyProc == nullptr) return;
    for (const std::string& o : recorded_owners)
        if (o == owner) return;
    if (!session_exit_hook_registered) {
        pg_call([] { before_shmem_exit(clear_session_record, 0); });
        session_exit_hook_registered = true;
    }
    char buf[kOwnerSize];
    copy_text(buf, sizeof buf, owner);
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    SessionOwners& r = session_owners[MyProc->pgprocno];
    if (r.pid != MyProcPid) {
        r.pid = MyProcPid;
        r.database = MyDatabaseId;
        r.count = 0;
        r.overflow = false;
    }
    if (r.count < kSessionOwners)
        std::memcpy(r.owners[r.count++], buf, kOwnerSize);
    else
        r.overflow = true;
    bool overflow = r.overflow;
    LWLockRelease(shared->lock);
    if (overflow)
        recorded_any_owner = true;
    else
        recorded_owners.emplace_back(owner);
}

std::optional<std::vector<Token>> wait_for_leases(Spi& spi, std::string_view owner, RoleId role,
                                                  const std::vector<std::string>& names, Micros ttl,
                                                  Micros wait_for,
                                                  const std::function<AcquireAttempt()>& attempt) {
    require_waiting_available();
    note_owner_session(owner);
    if (records_may_be_written_here() && pending_records_exist()) persist_deadlocks(spi);
    const Micros start = now_micros();
    const Micros deadline = start + wait_for;
    const Micros check_every = static_cast<Micros>(deadlock_timeout_ms) * 1000;
    Micros next_check = start + check_every;
    Registration registration(owner, role, names, start, deadline, ttl);
    auto granted = [&](std::vector<Token> tokens, PromiseFate fate = PromiseFate::orphan) {
        std::string name, detail;
        if (fate == PromiseFate::taken) {
            // Chosen as a victim meanwhile: the error aborts the grant too.
            if (leave_queue(&name, &detail, nullptr, fate)) throw_victim(name, detail);
        } else {
            // Granted by this request's own try. A release may have handed it
            // the lease just before (committed after the promise was looked
            // at): the try then found the row already held as this owner and
            // kept its token -- that hand-off is this grant, not an orphan to
            // return (which would free a lease the caller holds). Any other
            // promise, or one a victim cannot take, is returned.
            std::optional<Promise> late;
            bool victim = leave_queue(&name, &detail, &late);
            if (late && (victim || std::find(tokens.begin(), tokens.end(), late->token) == tokens.end()))
                abandon_promise(*late, owner, names.front());
            if (victim) throw_victim(name, detail);
        }
        if (records_may_be_written_here() && pending_records_exist()) persist_deadlocks(spi);
        return tokens;
    };
    for (;;) {
        if (registration.chosen_as_victim()) {
            std::string name, detail;
            leave_queue(&name, &detail);
            throw_victim(name, detail);
        }
        std::optional<Micros> retry_at;
        // A release handed this request the lease: once the releasing
        // transaction has ended (its end wakes us), the row says whether it
        // committed. Nothing to write: the holding is already durable.
        std::optional<Promise> promise = registration.promise();
        bool promise_pending = promise && transaction_in_progress(promise->by);
        if (promise && !promise_pending) {
            if (promise_kept(*promise, owner, names.front()))
                return granted({promise->token}, PromiseFate::taken);
            registration.forget(*promise);
        }
        if (!promise_pending && registration.at_head()) {
            AcquireAttempt result = attempt();
            if (result.granted) return granted(std::move(result.tokens));
            retry_at = result.retry_at;
        }
        Micros now = now_micros();
        if (now >= deadline) {
            std::optional<Promise> last;
            leave_queue(nullptr, nullptr, &last);
            if (records_may_be_written_here() && pending_records_exist()) persist_deadlocks(spi);
            // Handed the lease just as the wait ran out: it is ours if that
            // release commits. wait_for stays a bound: the release's commit
            // is waited for at most kHandoffCommitMargin (README, "wait_for
            // is a bound"); a release still open after that may hand the
            // lease over later, as after a cancel at the moment of a hand-off.
            if (last) {
                if (with_lock_wait_limit(kHandoffCommitMargin, [&] { wait_for_transaction_end(last->by); }) &&
                    promise_kept(*last, owner, names.front()))
                    return std::vector<Token>{last->token};
                // Still committing, or committed just after the look: nobody
                // takes it; its transaction (or the next sweep) returns it.
                abandon_promise(*last, owner, names.front());
            }
            return std::nullopt;
        }
        if (now >= next_check) {
            if (check_deadlock_through_me() && records_may_be_written_here()) persist_deadlocks(spi);
            next_check = now_micros() + check_every;
            continue;
        }
        Micros wake_at = std::min(deadline, next_check);
        if (retry_at) wake_at = std::min(wake_at, std::max(*retry_at, now));
        long timeout_ms = static_cast<long>((wake_at - now + 999) / 1000);
        pg_call([&] {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, timeout_ms,
                            PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
        });
    }
}

int persist_deadlocks(Spi& spi) {
    if (shared == nullptr) return 0;
    struct Copy {
        std::uint64_t id;
        Micros detected_at;
        int victim_pid;
        std::string victim_owner, victim_name, cycle_text, cycle_json, reason;
    };
    std::vector<Copy> copies;
    std::vector<DeadlockRecord> raw;
    raw.reserve(kRingSize);
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    for (DeadlockRecord& r : shared->ring) {
        if (r.state != RecordState::pending || r.database != MyDatabaseId) continue;
        r.state = RecordState::claimed;
        r.claimed_by = MyProc->pgprocno;
        raw.push_back(r);
    }
    LWLockRelease(shared->lock);
    SubTransactionId subxact = GetCurrentSubTransactionId();
    for (const DeadlockRecord& r : raw) {
        claimed_records.push_back({r.id, subxact});
        copies.push_back({r.id, r.detected_at, r.victim_pid, r.victim_owner, r.victim_name,
                          r.cycle_text, r.cycle_json, r.reason});
    }
    static Statement insert(
        "INSERT INTO coord.deadlock_history (detected_at, cycle, cycle_text, victim, victim_name, "
        "victim_pid, reason) VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7)",
        {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID});
    for (const Copy& c : copies)
        spi.run(insert, {timestamptz_param(c.detected_at), text_param(c.cycle_json),
                         text_param(c.cycle_text), text_param(c.victim_owner),
                         text_param(c.victim_name), int32_param(c.victim_pid), text_param(c.reason)});
    return static_cast<int>(copies.size());
}

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

std::vector<QueueDepth> queue_depths() {
    std::vector<QueueDepth> out;
    if (shared == nullptr) return out;
    std::vector<WaiterCopy> waiters = copy_waiters(MyDatabaseId);  // sorted by name, arrival
    for (std::size_t i = 0; i < waiters.size();) {
        std::size_t j = i;
        std::vector<std::string> owners;
        Micros oldest = waiters[i].since;
        for (; j < waiters.size() && waiters[j].name == waiters[i].name; ++j) {
            owners.push_back(waiters[j].owner);
            oldest = std::min(oldest, waiters[j].since);
        }
        std::sort(owners.begin(), owners.end());
        owners.erase(std::unique(owners.begin(), owners.end()), owners.end());
        out.push_back({waiters[i].name, static_cast<int>(owners.size()), oldest});
        i = j;
    }
    return out;
}

int queue_depth_alert_threshold() { return queue_depth_alert; }

int return_orphaned_handoffs(Spi& spi) {
    // Only those whose promising transaction has ended: a commit made the
    // holding (returned here), a rollback nothing (the compare-and-set
    // finds another token and changes nothing).
    std::vector<OrphanCopy> ended;
    if (shared == nullptr) return 0;
    {
        std::vector<TransactionId> open;
        LWLockAcquire(shared->lock, LW_SHARED);
        for (const OrphanedHandoff& o : shared->orphans)
            if (o.used && o.database == MyDatabaseId) open.push_back(o.by);
        LWLockRelease(shared->lock);
        if (open.empty()) return 0;
        std::vector<TransactionId> running;
        for (TransactionId xid : open)
            if (transaction_in_progress(xid)) running.push_back(xid);
        ended = take_orphans([&](const OrphanedHandoff& o) {
            return std::find(running.begin(), running.end(), o.by) == running.end();
        });
    }
    int returned = 0;
    for (const OrphanCopy& o : ended)
        if (return_handed_holding(spi, o.name, o.owner, o.token)) ++returned;
    return returned;
}

namespace {

// Before this transaction commits: the hand-offs it promised to requests that
// have left meanwhile are returned (freed, or handed to the next waiter,
// which may leave too: until none is left). An error aborts the commit.
void return_orphans_of_this_transaction() {
    TransactionId xid = GetTopTransactionIdIfAny();
    if (!orphans_of(xid)) return;
    guarded_call(
        [](FunctionCallInfo) -> Datum {
            TransactionId me = GetTopTransactionIdIfAny();
            pg_call([] {
                CommandCounterIncrement();
                PushActiveSnapshot(GetTransactionSnapshot());
            });
            {
                Spi spi;
                for (;;) {
                    std::vector<OrphanCopy> mine =
                        take_orphans([&](const OrphanedHandoff& o) { return o.by == me; });
                    if (mine.empty()) break;
                    for (const OrphanCopy& o : mine) return_handed_holding(spi, o.name, o.owner, o.token);
                    pg_call([] { CommandCounterIncrement(); });
                }
            }
            pg_call([] { PopActiveSnapshot(); });
            return Datum(0);
        },
        nullptr);
}

}  // namespace

}  // namespace coord::pg

// ---- SQL-callable views over shared memory ----------------------------------

using namespace coord;
using namespace coord::pg;

namespace {

}  // namespace

// coord.waiting_requests(): name, owner, waiting_since, position, pid, wait_until
COORD_FUNCTION(coord_waiting_requests) {
    begin_result_set(fcinfo);
    if (shared == nullptr) return Datum(0);
    std::vector<WaiterCopy> waiters = copy_waiters(MyDatabaseId);
    std::vector<Micros> until(waiters.size(), 0);
    std::vector<int> pids(waiters.size(), 0);
    LWLockAcquire(shared->lock, LW_SHARED);
    for (std::size_t i = 0; i < waiters.size(); ++i) {
        until[i] = backends[waiters[i].procno].deadline;
        pids[i] = backends[waiters[i].procno].pid;
    }
    LWLockRelease(shared->lock);
    int position = 0;
    for (std::size_t i = 0; i < waiters.size(); ++i) {
        const WaiterCopy& w = waiters[i];
        position = (i > 0 && waiters[i - 1].name == w.name) ? position + 1 : 1;
        Datum values[6] = {text_datum(w.name), text_datum(w.owner), TimestampTzGetDatum(w.since),
                           Int32GetDatum(position), Int32GetDatum(pids[i]),
                           TimestampTzGetDatum(until[i])};
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
    LWLockAcquire(shared->lock, LW_SHARED);
    for (const DeadlockRecord& r : shared->ring)
        if (r.database == MyDatabaseId &&
            (r.state == RecordState::pending ||
             (r.state == RecordState::claimed && r.claimed_by != MyProc->pgprocno)))
            raw.push_back(r);
    LWLockRelease(shared->lock);
    std::sort(raw.begin(), raw.end(),
              [](const DeadlockRecord& a, const DeadlockRecord& b) { return a.id < b.id; });
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

COORD_FUNCTION(coord_detect_deadlocks) {
    Spi spi;
    return Int32GetDatum(detect_all_deadlocks(spi));
}
