// The shared-memory lease table: see memory_table.hpp.
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/token_allocator.hpp"
#include "pg/leases/lease_row.hpp"
#include "pg/leases/memory_table.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "access/twophase.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
}

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

namespace coord::pg {

namespace {

constexpr int kPartitions = 64;  // a power of 2 (dynahash)
constexpr int kPools = 16;       // databases with a token block at once
constexpr int kBlockSize = 1024;
constexpr int kMaxRounds = 100;
constexpr std::size_t kNameSize = kMaxNameBytes + 1;
constexpr std::size_t kOwnerSize = kMaxOwnerBytes + 1;

int memory_leases_guc = 10000;

struct MemKey {
    Oid database;
    char name[kNameSize];
};

enum PinKind : std::uint8_t { fence_pin = 1, durable_pin = 2 };

struct Pin {
    VirtualTransactionId vxid;
    std::uint8_t kind;
};

struct MemEntry {
    MemKey key;  // first: dynahash's key
    bool held;   // a holding (live or expired) is recorded
    Oid holder_role;
    Token token;
    Micros acquired_at;
    Micros expires_at;
    std::uint64_t version;
    // What the last read of coord.lease_state found, while no durable grant
    // of the name has begun since (pin_for_durable_grant clears it): no live
    // durable holding, last durable token durable_token. Valid for the
    // extension whose token counter is durable_counter.
    Oid durable_counter;  // InvalidOid: unknown, read the row
    Token durable_token;
    int pin_count;  // fence pins (pins[]), each with its transaction
    Pin pins[kMaxMemoryPins];
    // Transactions deciding a durable acquire of the name: only counted, so
    // any number of them may decide at once (each backend knows its own
    // from local_pins).
    int durable_pins;
    char owner[kOwnerSize];
};

struct PartitionState {
    std::uint64_t changes;         // versions handed to entries
    std::uint64_t durable_unpins;  // durable pins removed (their transaction ended)
};

struct TokenPool {
    Oid database;  // InvalidOid: unused
    Oid counter;   // the counter sequence the values came from
    int next;
    int count;
    std::int64_t values[kBlockSize];
};

struct Shared {
    pg_atomic_uint32 holdings;  // entries with held set
    PartitionState partitions[kPartitions];
    TokenPool pools[kPools];
};

Shared* shared = nullptr;
HTAB* table = nullptr;
// Per backend (pgprocno): 1 while it waits for memory holdings (see
// waits_for_memory_holding).
pg_atomic_uint32* memory_waiters = nullptr;
bool marked_memory_waiter = false;

int proc_slots() { return MaxBackends + NUM_AUXILIARY_PROCS + max_prepared_xacts; }
LWLockPadded* locks = nullptr;  // kPartitions partitions, then the pool lock, then the refill lock

LWLock* partition_lock(int p) { return &locks[p].lock; }
LWLock* pool_lock() { return &locks[kPartitions].lock; }
LWLock* refill_lock() { return &locks[kPartitions + 1].lock; }

long table_size() { return static_cast<long>(memory_leases_guc) + 4L * MaxBackends + 64; }

// The key's name is NUL-padded: hash and compare only up to its NUL, not
// all kMaxNameBytes (measured: hashing the whole key was a fifth of a cycle).
std::uint32_t key_hash(const void* key, Size) {
    const MemKey* k = static_cast<const MemKey*>(key);
    std::size_t len = strnlen(k->name, kNameSize);
    std::uint32_t h = hash_bytes(reinterpret_cast<const unsigned char*>(k->name), static_cast<int>(len));
    return h ^ (static_cast<std::uint32_t>(k->database) * 0x9E3779B1u);
}

int key_match(const void* a, const void* b, Size) {
    const MemKey* x = static_cast<const MemKey*>(a);
    const MemKey* y = static_cast<const MemKey*>(b);
    if (x->database != y->database) return 1;
    return std::strncmp(x->name, y->name, kNameSize);
}

shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

void memory_shmem_request() {
    if (prev_shmem_request) prev_shmem_request();
    RequestAddinShmemSpace(MAXALIGN(sizeof(Shared)) +
                           MAXALIGN(sizeof(pg_atomic_uint32) * static_cast<Size>(proc_slots())) +
                           hash_estimate_size(table_size(), sizeof(MemEntry)));
    RequestNamedLWLockTranche("pg_coord_memory_leases", kPartitions + 2);
}

void memory_shmem_startup() {
    if (prev_shmem_startup) prev_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    shared = static_cast<Shared*>(ShmemInitStruct("pg_coord memory leases state", sizeof(Shared),
                                                  &found));
    if (!found) {
        std::memset(static_cast<void*>(shared), 0, sizeof(Shared));
        pg_atomic_init_u32(&shared->holdings, 0);
    }
    memory_waiters = static_cast<pg_atomic_uint32*>(ShmemInitStruct(
        "pg_coord memory lease waiters", sizeof(pg_atomic_uint32) * static_cast<Size>(proc_slots()),
        &found));
    if (!found)
        for (int p = 0; p < proc_slots(); ++p) pg_atomic_init_u32(&memory_waiters[p], 0);
    HASHCTL info;
    std::memset(&info, 0, sizeof(info));
    info.keysize = sizeof(MemKey);
    info.entrysize = sizeof(MemEntry);
    info.num_partitions = kPartitions;
    info.hash = key_hash;
    info.match = key_match;
    table = ShmemInitHash("pg_coord memory leases", table_size(), table_size(), &info,
                          HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_PARTITION);
    locks = GetNamedLWLockTranche("pg_coord_memory_leases");
    LWLockRelease(AddinShmemInitLock);
}

// ---- keys, locks, copies ----------------------------------------------------

struct Located {
    MemKey key;
    std::uint32_t hash;
    int partition;
};

Located locate(std::string_view name) {
    Located l;
    std::memset(&l.key, 0, sizeof(l.key));
    l.key.database = MyDatabaseId;
    std::memcpy(l.key.name, name.data(), std::min(name.size(), kMaxNameBytes));
    l.hash = get_hash_value(table, &l.key);
    l.partition = static_cast<int>(l.hash % kPartitions);
    return l;
}

// Holds one partition lock for its scope; nothing under it raises.
class PartitionGuard {
public:
    PartitionGuard(int partition, LWLockMode mode) : lock_(partition_lock(partition)) {
        LWLockAcquire(lock_, mode);
    }
    ~PartitionGuard() { release(); }
    void release() {
        if (lock_ != nullptr) LWLockRelease(lock_);
        lock_ = nullptr;
    }
    PartitionGuard(const PartitionGuard&) = delete;
    PartitionGuard& operator=(const PartitionGuard&) = delete;

private:
    LWLock* lock_;
};

MemEntry* find(const Located& l) {
    return static_cast<MemEntry*>(
        hash_search_with_hash_value(table, &l.key, l.hash, HASH_FIND, nullptr));
}

VirtualTransactionId my_vxid() {
    VirtualTransactionId v;
    v.backendId = MyProc->backendId;
    v.localTransactionId = MyProc->lxid;
    return v;
}

bool same_vxid(const VirtualTransactionId& a, const VirtualTransactionId& b) {
    return a.backendId == b.backendId && a.localTransactionId == b.localTransactionId;
}

// ---- pins of this backend's transaction ---------------------------------------

struct LocalPin {
    Located where;
    VirtualTransactionId vxid;
    bool durable;
};
std::vector<LocalPin> local_pins;
// The names of local_pins' durable pins, so that looking one up does not
// scan the list (a transaction may take 100 000 names: scenario many_names).
std::unordered_set<std::string> local_durable_keys;

std::string durable_key(const Located& l) {
    std::string k(reinterpret_cast<const char*>(&l.key.database), sizeof(l.key.database));
    k.append(l.key.name, strnlen(l.key.name, kNameSize));
    return k;
}

// This transaction counts in the entry's durable_pins.
bool has_local_durable_pin(const Located& l) {
    return local_durable_keys.count(durable_key(l)) > 0;
}

// An entry as copied out under the lock.
struct Seen {
    bool exists = false;
    std::uint64_t version = 0;
    std::uint64_t durable_unpins = 0;
    std::optional<LeaseRecord> holding;   // held (live or expired)
    Token last_token = 0;                 // the entry's token, also when not held
    bool durable_pending = false;         // another transaction's durable pin
    Oid durable_counter = InvalidOid;     // the entry's cache of the durable row
    Token durable_token = 0;
    std::vector<VirtualTransactionId> other_fencers;
};

Seen copy_out(const Located& l) {
    Seen s;
    PartitionGuard guard(l.partition, LW_SHARED);
    s.durable_unpins = shared->partitions[l.partition].durable_unpins;
    MemEntry* e = find(l);
    if (e == nullptr) return s;
    s.exists = true;
    s.version = e->version;
    s.last_token = e->token;
    s.durable_counter = e->durable_counter;
    s.durable_token = e->durable_token;
    if (e->held)
        s.holding = LeaseRecord{std::string(e->owner), e->token, e->acquired_at, e->expires_at,
                                e->holder_role};
    VirtualTransactionId me = my_vxid();
    for (int k = 0; k < e->pin_count; ++k) {
        if (same_vxid(e->pins[k].vxid, me)) continue;
        if (e->pins[k].kind == fence_pin) s.other_fencers.push_back(e->pins[k].vxid);
    }
    s.durable_pending = e->durable_pins > (has_local_durable_pin(l) ? 1 : 0);
    return s;
}

// Unchanged since `s` was copied (under the exclusive lock).
bool unchanged(const Located& l, const Seen& s, MemEntry* e) {
    if (shared->partitions[l.partition].durable_unpins != s.durable_unpins) return false;
    if (e == nullptr) return !s.exists;
    return s.exists && e->version == s.version;
}

void bump(const Located& l, MemEntry* e) { e->version = ++shared->partitions[l.partition].changes; }

void wait_for_fencers(const std::vector<VirtualTransactionId>& fencers) {
    for (const VirtualTransactionId& v : fencers)
        pg_call([&] { VirtualXactLock(v, true); });
}

bool has_pin(const MemEntry* e, const VirtualTransactionId& me, std::uint8_t kind) {
    for (int k = 0; k < e->pin_count; ++k)
        if (same_vxid(e->pins[k].vxid, me) && e->pins[k].kind == kind) return true;
    return false;
}

// An entry that remembers its name's durable row stays (until the table is
// full: reclaim_all) so that the next memory acquire need not read the row.
void remove_entry_if_unused(const Located& l, MemEntry* e) {
    if (e->held || e->pin_count > 0 || e->durable_pins > 0 || e->durable_counter != InvalidOid)
        return;
    hash_search_with_hash_value(table, &l.key, l.hash, HASH_REMOVE, nullptr);
}

void unpin_all() {
    for (const LocalPin& p : local_pins) {
        LWLockAcquire(partition_lock(p.where.partition), LW_EXCLUSIVE);
        MemEntry* e = find(p.where);
        if (e != nullptr && p.durable) {
            if (e->durable_pins > 0) --e->durable_pins;
            bump(p.where, e);
            ++shared->partitions[p.where.partition].durable_unpins;
            remove_entry_if_unused(p.where, e);
        } else if (e != nullptr) {
            int kept = 0;
            for (int k = 0; k < e->pin_count; ++k)
                if (!same_vxid(e->pins[k].vxid, p.vxid)) e->pins[kept++] = e->pins[k];
            if (kept != e->pin_count) {
                e->pin_count = kept;
                bump(p.where, e);
                remove_entry_if_unused(p.where, e);
            }
        }
        LWLockRelease(partition_lock(p.where.partition));
    }
    local_pins.clear();
    local_durable_keys.clear();
}

void mark_memory_waiter(bool waiting) {
    if (memory_waiters == nullptr || MyProc == nullptr) return;
    pg_atomic_write_u32(&memory_waiters[MyProc->pgprocno], waiting ? 1 : 0);
    marked_memory_waiter = waiting;
}

void memory_xact_callback(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:
            if (!local_pins.empty()) unpin_all();
            if (marked_memory_waiter) mark_memory_waiter(false);  // an error skipped the unmark
            break;
        default:
            break;
    }
}

// Adds this transaction's pin of `kind` (the caller holds the exclusive lock;
// local_pins has room: reserve_local_pin). False when the entry has no free
// fence pin slot; a durable pin always fits.
bool add_pin(const Located& l, MemEntry* e, std::uint8_t kind) {
    VirtualTransactionId me = my_vxid();
    if (kind == durable_pin) {
        if (has_local_durable_pin(l)) return true;
        local_durable_keys.insert(durable_key(l));  // may throw: before any change
        ++e->durable_pins;
        bump(l, e);
        local_pins.push_back(LocalPin{l, me, true});
        return true;
    }
    if (has_pin(e, me, kind)) return true;
    if (e->pin_count >= kMaxMemoryPins) return false;
    e->pins[e->pin_count++] = Pin{me, kind};
    bump(l, e);
    local_pins.push_back(LocalPin{l, me, false});
    return true;
}

// Room for one more local pin, taken before the partition lock (nothing
// under it may allocate). Grows geometrically: reserving exactly one more
// reallocated the whole list per pin (quadratic in the names one transaction
// takes; scenario many_names).
void reserve_local_pin() {
    if (local_pins.size() == local_pins.capacity())
        local_pins.reserve(std::max<std::size_t>(16, 2 * local_pins.capacity()));
}

MemEntry* enter(const Located& l) {
    bool found = false;
    MemEntry* e = static_cast<MemEntry*>(
        hash_search_with_hash_value(table, &l.key, l.hash, HASH_ENTER_NULL, &found));
    if (e != nullptr && !found) {
        e->held = false;
        e->holder_role = InvalidOid;
        e->token = 0;
        e->acquired_at = e->expires_at = 0;
        e->pin_count = 0;
        e->durable_pins = 0;
        e->owner[0] = '\0';
        e->version = 0;
        e->durable_counter = InvalidOid;
        e->durable_token = 0;
    }
    return e;
}

void set_holding(MemEntry* e, std::string_view owner, Token token, Micros acquired_at,
                 Micros expires_at, Oid role) {
    if (!e->held) pg_atomic_fetch_add_u32(&shared->holdings, 1);
    e->held = true;
    std::memcpy(e->owner, owner.data(), std::min(owner.size(), kMaxOwnerBytes));
    e->owner[std::min(owner.size(), kMaxOwnerBytes)] = '\0';
    e->token = token;
    e->acquired_at = acquired_at;
    e->expires_at = expires_at;
    e->holder_role = role;
}

void clear_holding(MemEntry* e) {
    if (e->held) pg_atomic_fetch_sub_u32(&shared->holdings, 1);
    e->held = false;
}

// Removes every reclaimable entry (no live holding, no pin), all partitions
// locked in order. Only when the table is full.
void reclaim_all() {
    for (int p = 0; p < kPartitions; ++p) LWLockAcquire(partition_lock(p), LW_EXCLUSIVE);
    Micros now = now_micros();
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, table);
    while (MemEntry* e = static_cast<MemEntry*>(hash_seq_search(&status))) {
        LeaseRecord r{e->held ? std::optional<std::string>(e->owner) : std::nullopt, e->token,
                      e->acquired_at, e->expires_at, e->holder_role};
        if (!memory_entry_reclaimable(r, now, e->pin_count + e->durable_pins)) continue;
        clear_holding(e);
        hash_search(table, &e->key, HASH_REMOVE, nullptr);
    }
    for (int p = kPartitions - 1; p >= 0; --p) LWLockRelease(partition_lock(p));
}

[[noreturn]] void throw_table_full() {
    throw Error(sqlstate::configuration_limit_exceeded,
                "the shared-memory lease table has no free entry",
                "Every entry holds a memory lease or is pinned by a running transaction.",
                "Raise coord.memory_leases (takes effect at the next server start), or take this "
                "lease with durable => true.");
}

[[noreturn]] void throw_kept_changing(std::string_view name) {
    throw Error(sqlstate::serialization_failure,
                fmt::format("memory lease \"{}\" kept changing concurrently; retry", name));
}

// ---- tokens -------------------------------------------------------------------

// The next value of this database's block, or nullopt when the block is used
// up (or this database has no pool slot).
std::optional<std::int64_t> take_pooled(Oid counter, bool* no_slot) {
    LWLockAcquire(pool_lock(), LW_EXCLUSIVE);
    TokenPool* pool = nullptr;
    TokenPool* unused = nullptr;
    for (TokenPool& p : shared->pools) {
        if (p.database == MyDatabaseId) pool = &p;
        if (p.database == InvalidOid && unused == nullptr) unused = &p;
    }
    if (pool == nullptr && unused != nullptr) {
        pool = unused;
        pool->database = MyDatabaseId;
        pool->counter = counter;
        pool->next = pool->count = 0;
    }
    std::optional<std::int64_t> v;
    *no_slot = pool == nullptr;
    if (pool != nullptr) {
        if (pool->counter != counter) {  // the extension was created again
            pool->counter = counter;
            pool->next = pool->count = 0;
        }
        if (pool->next < pool->count) v = pool->values[pool->next++];
    }
    LWLockRelease(pool_lock());
    return v;
}

void discard_pool() {
    LWLockAcquire(pool_lock(), LW_EXCLUSIVE);
    for (TokenPool& p : shared->pools)
        if (p.database == MyDatabaseId) p.next = p.count;
    LWLockRelease(pool_lock());
}

void refill_pool(Oid counter) {
    static std::int64_t values[kBlockSize];
    LWLockAcquire(refill_lock(), LW_EXCLUSIVE);
    bool empty = true;
    LWLockAcquire(pool_lock(), LW_SHARED);
    for (TokenPool& p : shared->pools)
        if (p.database == MyDatabaseId && p.counter == counter && p.next < p.count) empty = false;
    LWLockRelease(pool_lock());
    if (empty) {
        try {
            reserve_counters(values, kBlockSize);
        } catch (...) {
            LWLockRelease(refill_lock());
            throw;
        }
        LWLockAcquire(pool_lock(), LW_EXCLUSIVE);
        for (TokenPool& p : shared->pools)
            if (p.database == MyDatabaseId && p.counter == counter) {
                std::memcpy(p.values, values, sizeof(values));
                p.next = 0;
                p.count = kBlockSize;
            }
        LWLockRelease(pool_lock());
    }
    LWLockRelease(refill_lock());
}

// A token for a memory holding, larger than `last` (the name's last token of
// either kind) and than every memory token this server handed out before.
Token allocate_memory_token(Token last) {
    std::int64_t epoch = token_epoch_now();
    Oid counter = pg_call([] { return coord_relation_oid(CoordRelation::token_allocator); });
    for (int round = 0; round < kMaxRounds; ++round) {
        bool no_slot = false;
        std::optional<std::int64_t> v = take_pooled(counter, &no_slot);
        if (no_slot) return allocate_token(last);
        if (!v) {
            refill_pool(counter);
            continue;
        }
        Token t = compose_token(epoch, *v);
        if (t > last) return t;
        // The name had a durable token from after this block: a direct one,
        // and the rest of the block is dropped so later memory tokens stay
        // larger than it.
        discard_pool();
        return allocate_token(last);
    }
    return allocate_token(last);
}

// ---- the operations ---------------------------------------------------------------

template <typename Apply>
auto change_entry(std::string_view name, Apply&& apply) {
    Located l = locate(name);
    for (int round = 0; round < kMaxRounds; ++round) {
        Seen s = copy_out(l);
        auto result = apply(l, s);
        if (result.has_value()) return *result;
    }
    throw_kept_changing(name);
}

}  // namespace

void define_memory_leases() {
    RegisterXactCallback(memory_xact_callback, nullptr);
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable(
        "coord.memory_leases",
        "How many memory leases (coord.acquire(..., durable => false)) may be held at once.",
        nullptr, &memory_leases_guc, 10000, 0, 1 << 22, PGC_POSTMASTER, 0, nullptr, nullptr,
        nullptr);
    prev_shmem_request = shmem_request_hook;
    shmem_request_hook = memory_shmem_request;
    prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = memory_shmem_startup;
}

bool memory_leases_available() { return table != nullptr; }

void require_memory_leases() {
    if (memory_leases_available()) return;
    throw Error(sqlstate::object_not_in_prerequisite_state,
                "memory leases need pg_coord in shared_preload_libraries",
                "durable => false keeps the holding in shared memory, which pg_coord can only "
                "reserve when the server loads it at start.",
                "Add pg_coord to shared_preload_libraries and restart the server, or call with "
                "durable => true.");
}

namespace {

// The durable row as a memory acquire needs it, unless the entry remembers
// it (no durable grant of the name has begun since it was read).
std::optional<LeaseRecord> durable_row_for(std::string_view name, const Seen& s, Oid counter) {
    if (s.durable_counter == counter && !s.durable_pending) {
        if (s.durable_token > 0) return LeaseRecord{std::nullopt, s.durable_token, 0, 0, 0};
        return std::nullopt;
    }
    return read_latest_lease_row(name);
}

// The entry's holding, or its last token when it has none.
std::optional<LeaseRecord> memory_side(const Seen& s) {
    if (s.holding) return s.holding;
    if (s.last_token > 0) return LeaseRecord{std::nullopt, s.last_token, 0, 0, 0};
    return std::nullopt;
}

// Capacity for `new_holdings` more live holdings (expired ones reclaimed
// first when the table is at its limit): 53400 otherwise.
void require_room_for(std::size_t new_holdings) {
    if (new_holdings == 0) return;
    auto cap = static_cast<std::size_t>(memory_leases_guc);
    if (pg_atomic_read_u32(&shared->holdings) + new_holdings <= cap) return;
    reclaim_all();
    require_memory_capacity(pg_atomic_read_u32(&shared->holdings), cap, new_holdings);
}

// Records a new holding in the entry (exclusive lock held): the row was free
// (else busy), remembered for the next acquire.
void write_holding(const Located& l, MemEntry* e, std::string_view owner, const AcquireDecision& d,
                   Oid counter, const std::optional<LeaseRecord>& durable) {
    set_holding(e, owner, d.token, d.acquired_at, d.expires_at, d.holder_role);
    e->durable_counter = counter;
    e->durable_token = durable ? durable->token : 0;
    bump(l, e);
}

}  // namespace

std::optional<Token> memory_acquire(std::string_view name, std::string_view owner,
                                    const Caller& caller, Micros ttl) {
    require_memory_leases();
    using Kind = AcquireDecision::Kind;
    Oid counter = pg_call([] { return coord_relation_oid(CoordRelation::token_allocator); });
    bool reclaimed = false;
    return change_entry(name, [&](const Located& l, const Seen& s) -> std::optional<std::optional<Token>> {
        std::optional<LeaseRecord> durable = durable_row_for(name, s, counter);
        AcquireDecision d = decide_memory_acquire(memory_side(s), durable, s.durable_pending, name,
                                                  owner, caller, now_micros(), ttl,
                                                  allocate_memory_token);
        if (d.kind == Kind::busy) return std::optional<Token>();
        // A newcomer never takes a name others are queued for (FIFO).
        if (d.kind == Kind::granted && someone_waits_for(name)) return std::optional<Token>();
        if (d.kind == Kind::granted && !s.other_fencers.empty()) {
            wait_for_fencers(s.other_fencers);  // a fenced write of the ended holding
            return std::nullopt;
        }
        if (!s.holding) require_room_for(1);
        PartitionGuard guard(l.partition, LW_EXCLUSIVE);
        MemEntry* e = find(l);
        if (!unchanged(l, s, e)) return std::nullopt;
        if (e == nullptr) e = enter(l);
        if (e == nullptr) {
            guard.release();
            if (reclaimed) throw_table_full();
            reclaim_all();  // entries that only remember a durable row, expired holdings
            reclaimed = true;
            return std::nullopt;
        }
        write_holding(l, e, owner, d, counter, durable);
        return std::optional<Token>(d.token);
    });
}

AcquireAttempt memory_acquire_all(const std::vector<std::string>& names, std::string_view owner,
                                  const Caller& caller, Micros ttl,
                                  const std::function<bool(std::string_view)>& new_holding_allowed) {
    require_memory_leases();
    using Kind = AcquireDecision::Kind;
    Oid counter = pg_call([] { return coord_relation_oid(CoordRelation::token_allocator); });
    std::vector<Located> where;
    where.reserve(names.size());
    for (const std::string& name : names) where.push_back(locate(name));
    // The partitions to lock, ascending (reclaim_all's order).
    std::vector<int> partitions;
    for (const Located& l : where) partitions.push_back(l.partition);
    std::sort(partitions.begin(), partitions.end());
    partitions.erase(std::unique(partitions.begin(), partitions.end()), partitions.end());
    bool reclaimed = false;
    for (int round = 0; round < kMaxRounds; ++round) {
        // Decide on every name first, with no token: a busy name refuses the
        // whole set before any token is used up.
        std::vector<Seen> seen;
        std::vector<std::optional<LeaseRecord>> durable;
        std::vector<AcquireDecision> decided;
        std::vector<Token> last(names.size(), 0);
        bool wait_again = false;
        std::size_t new_holdings = 0;
        Micros now = now_micros();
        for (std::size_t k = 0; k < names.size(); ++k) {
            seen.push_back(copy_out(where[k]));
            const Seen& s = seen.back();
            durable.push_back(durable_row_for(names[k], s, counter));
            std::optional<LeaseRecord> mine = memory_side(s);
            AcquireDecision d = decide_memory_acquire(mine, durable.back(), s.durable_pending,
                                                      names[k], owner, caller, now, ttl,
                                                      [&](Token t) { last[k] = t; return Token(0); });
            if (d.kind == Kind::granted && !new_holding_allowed(names[k])) d = {Kind::busy};
            if (d.kind == Kind::busy) {
                // Asleep at most until the holding (of either kind) expires.
                AcquireAttempt refused;
                if (s.holding && s.holding->held_at(now)) refused.retry_at = s.holding->expires_at;
                const std::optional<LeaseRecord>& row = durable.back();
                if (row && row->held_at(now)) refused.retry_at = row->expires_at;
                return refused;
            }
            if (d.kind == Kind::granted && !s.other_fencers.empty()) {
                wait_for_fencers(s.other_fencers);
                wait_again = true;
                break;
            }
            if (!s.holding) ++new_holdings;
            decided.push_back(d);
        }
        if (wait_again) continue;
        require_room_for(new_holdings);
        // Every name can be taken: the new holdings' tokens, in name order.
        for (std::size_t k = 0; k < names.size(); ++k)
            if (decided[k].kind == Kind::granted) decided[k].token = allocate_memory_token(last[k]);
        // Written all at once, under every partition's lock: nobody sees part
        // of the set taken.
        // (Nothing below allocates or raises while the locks are held.)
        std::vector<MemEntry*> entries;
        std::vector<char> entered;
        entries.reserve(names.size());
        entered.reserve(names.size());
        for (int p : partitions) LWLockAcquire(partition_lock(p), LW_EXCLUSIVE);
        bool changed = false;
        for (std::size_t k = 0; k < names.size() && !changed; ++k)
            changed = !unchanged(where[k], seen[k], find(where[k]));
        bool full = false;
        for (std::size_t k = 0; k < names.size() && !changed; ++k) {
            MemEntry* e = find(where[k]);
            entered.push_back(e == nullptr);
            if (e == nullptr) e = enter(where[k]);
            if (e == nullptr) {
                full = true;
                break;
            }
            entries.push_back(e);
        }
        if (!changed && !full)
            for (std::size_t k = 0; k < names.size(); ++k)
                write_holding(where[k], entries[k], owner, decided[k], counter, durable[k]);
        if (full)  // the entries made for this try are not needed
            for (std::size_t k = 0; k < entries.size(); ++k)
                if (entered[k]) remove_entry_if_unused(where[k], entries[k]);
        for (auto p = partitions.rbegin(); p != partitions.rend(); ++p)
            LWLockRelease(partition_lock(*p));
        if (full) {
            if (reclaimed) throw_table_full();
            reclaim_all();
            reclaimed = true;
            continue;
        }
        if (changed) continue;  // the tokens taken for this try stay unused (never repeat)
        AcquireAttempt granted;
        granted.granted = true;
        for (const AcquireDecision& d : decided) granted.tokens.push_back(d.token);
        return granted;
    }
    throw_kept_changing(names.front());
}

MemoryWait::MemoryWait() { mark_memory_waiter(true); }
MemoryWait::~MemoryWait() { mark_memory_waiter(false); }

bool waits_for_memory_holding(int procno) {
    if (memory_waiters == nullptr || procno < 0 || procno >= proc_slots()) return false;
    return pg_atomic_read_u32(&memory_waiters[procno]) != 0;
}

std::optional<LeaseRecord> memory_holding(std::string_view name) {
    if (!memory_leases_available()) return std::nullopt;
    return copy_out(locate(name)).holding;
}

std::optional<Micros> memory_renew(std::string_view name, Token token, const Caller& caller,
                                   Micros ttl) {
    if (!memory_leases_available()) return std::nullopt;
    return change_entry(name, [&](const Located& l, const Seen& s) -> std::optional<std::optional<Micros>> {
        if (!s.holding) return std::optional<Micros>();
        Micros expires_at = decide_renew(s.holding, name, token, caller, now_micros(), ttl);
        PartitionGuard guard(l.partition, LW_EXCLUSIVE);
        MemEntry* e = find(l);
        if (!unchanged(l, s, e)) return std::nullopt;
        e->expires_at = expires_at;
        bump(l, e);
        return std::optional<Micros>(expires_at);
    });
}

namespace {

// Ends the holding copied in `s` (exclusive lock inside); false when the entry changed.
bool end_holding(const Located& l, const Seen& s) {
    PartitionGuard guard(l.partition, LW_EXCLUSIVE);
    MemEntry* e = find(l);
    if (!unchanged(l, s, e)) return false;
    clear_holding(e);
    bump(l, e);
    remove_entry_if_unused(l, e);
    return true;
}

}  // namespace

void memory_give_back(const std::vector<std::string>& names, const std::vector<Token>& tokens) {
    if (!memory_leases_available()) return;
    for (std::size_t k = 0; k < names.size() && k < tokens.size(); ++k) {
        if (tokens[k] == 0) continue;
        change_entry(names[k], [&](const Located& l, const Seen& s) -> std::optional<bool> {
            if (!s.holding || s.holding->token != tokens[k]) return false;
            if (!end_holding(l, s)) return std::nullopt;
            return true;
        });
    }
}

std::optional<bool> memory_release(std::string_view name, Token token, const Caller& caller) {
    if (!memory_leases_available()) return std::nullopt;
    return change_entry(name, [&](const Located& l, const Seen& s) -> std::optional<std::optional<bool>> {
        if (!s.holding) return std::optional<bool>();
        if (!decide_release(s.holding, name, token, caller, now_micros()))
            return std::optional<bool>(false);
        if (!end_holding(l, s)) return std::nullopt;
        return std::optional<bool>(true);
    });
}

std::optional<bool> memory_force_release(std::string_view name) {
    if (!memory_leases_available()) return std::nullopt;
    return change_entry(name, [&](const Located& l, const Seen& s) -> std::optional<std::optional<bool>> {
        if (!s.holding) return std::optional<bool>();
        bool was_held = decide_force_release(s.holding, now_micros());
        if (!end_holding(l, s)) return std::nullopt;
        return std::optional<bool>(was_held);
    });
}

bool memory_verify_fence(std::string_view name, Token token, const Caller& caller) {
    if (!memory_leases_available()) return false;
    return change_entry(name, [&](const Located& l, const Seen& s) -> std::optional<bool> {
        if (!s.holding) return false;
        check_fence(s.holding, name, token, caller, now_micros());
        reserve_local_pin();
        PartitionGuard guard(l.partition, LW_EXCLUSIVE);
        MemEntry* e = find(l);
        if (!unchanged(l, s, e)) return std::nullopt;
        if (!add_pin(l, e, fence_pin)) {
            int pins = e->pin_count;
            guard.release();
            require_pin_slot(pins, name);
        }
        return true;
    });
}

bool pin_for_durable_grant(std::string_view name) {
    if (!memory_leases_available()) return true;
    bool reclaimed = false;
    return change_entry(name, [&](const Located& l, const Seen& s) -> std::optional<bool> {
        Micros now = now_micros();
        if (memory_holding_blocks_durable(s.holding, now)) return false;
        if (!s.other_fencers.empty()) {
            wait_for_fencers(s.other_fencers);
            return std::nullopt;
        }
        reserve_local_pin();
        PartitionGuard guard(l.partition, LW_EXCLUSIVE);
        MemEntry* e = find(l);
        if (!unchanged(l, s, e)) return std::nullopt;
        if (e == nullptr) e = enter(l);
        if (e == nullptr) {
            guard.release();
            if (reclaimed) throw_table_full();
            reclaim_all();
            reclaimed = true;
            return std::nullopt;
        }
        // The durable row is about to change: memory acquires read it again.
        e->durable_counter = InvalidOid;
        clear_holding(e);  // an expired memory holding ends here
        add_pin(l, e, durable_pin);  // counted: always fits
        return true;
    });
}

std::vector<MemoryListing> memory_holdings_of_database() {
    std::vector<MemoryListing> out;
    if (!memory_leases_available()) return out;
    for (int p = 0; p < kPartitions; ++p) LWLockAcquire(partition_lock(p), LW_SHARED);
    HASH_SEQ_STATUS status;
    hash_seq_init(&status, table);
    while (MemEntry* e = static_cast<MemEntry*>(hash_seq_search(&status))) {
        if (e->key.database != MyDatabaseId || !e->held) continue;
        out.push_back(MemoryListing{
            std::string(e->key.name),
            LeaseRecord{std::string(e->owner), e->token, e->acquired_at, e->expires_at,
                        e->holder_role}});
    }
    for (int p = kPartitions - 1; p >= 0; --p) LWLockRelease(partition_lock(p));
    return out;
}

}  // namespace coord::pg
