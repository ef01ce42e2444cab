// Shared-memory counters and gauges, and the per-transaction events that
// reach them at commit (metrics.hpp).
#include "pg/metrics/metrics.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/guard.hpp"
#include "pg/queue/queue_settings.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "common/hashfn.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/rel.h"
}

#include <algorithm>
#include <cstring>

namespace coord::pg::metrics {

namespace {

constexpr int kSlots = 1024;  // queues (of all databases) counted; more go uncounted
constexpr std::size_t kNameBytes = 129;  // kMaxQueueNameBytes + NUL
constexpr int kValues = kTaskCounters + kTaskGauges;

struct QueueSlot {
    pg_atomic_uint32 used;  // set (with a barrier) after db and name
    Oid db;
    char name[kNameBytes];
    pg_atomic_uint64 values[kValues];  // counters, then gauges (signed, two's complement)
};

struct Shared {
    LWLock* lock;  // slot insertion and the gauges' validity
    pg_atomic_uint64 counters[static_cast<int>(Counter::count_)];
    pg_atomic_uint64 last_sweep_at;
    pg_atomic_uint64 last_sweep_duration;
    // Gauges are valid for (db, extension, the two tables' relfilenodes).
    bool valid;
    Oid valid_db;
    Oid valid_extension;
    Oid valid_tasks_node;
    Oid valid_complete_node;
    bool overflow;  // a queue found no slot: gauges of this db are not complete
    QueueSlot slots[kSlots];
};

Shared* shared = nullptr;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;

void metrics_shmem_request() {
    if (prev_shmem_request) prev_shmem_request();
    RequestAddinShmemSpace(sizeof(Shared));
    RequestNamedLWLockTranche("pg_coord_metrics", 1);
}

void metrics_shmem_startup() {
    if (prev_shmem_startup) prev_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    shared = static_cast<Shared*>(ShmemInitStruct("pg_coord metrics", sizeof(Shared), &found));
    if (!found) {
        std::memset(static_cast<void*>(shared), 0, sizeof(Shared));
        shared->lock = &(GetNamedLWLockTranche("pg_coord_metrics"))->lock;
        for (auto& c : shared->counters) pg_atomic_init_u64(&c, 0);
        pg_atomic_init_u64(&shared->last_sweep_at, 0);
        pg_atomic_init_u64(&shared->last_sweep_duration, 0);
        for (QueueSlot& s : shared->slots) {
            pg_atomic_init_u32(&s.used, 0);
            for (auto& v : s.values) pg_atomic_init_u64(&v, 0);
        }
    }
    LWLockRelease(AddinShmemInitLock);
}

std::uint32_t slot_hash(Oid db, std::string_view name) {
    return hash_bytes(reinterpret_cast<const unsigned char*>(name.data()), static_cast<int>(name.size())) ^
           (db * 0x9E3779B1u);
}

bool slot_is(const QueueSlot& s, Oid db, std::string_view name) {
    return s.db == db && std::strlen(s.name) == name.size() &&
           std::memcmp(s.name, name.data(), name.size()) == 0;
}

// The slot of (db, queue), made when `create`; nullptr when none (full).
QueueSlot* find_slot(Oid db, std::string_view name, bool create) {
    if (shared == nullptr || name.size() >= kNameBytes) return nullptr;
    std::uint32_t start = slot_hash(db, name) % kSlots;
    for (int pass = 0; pass < 2; ++pass) {
        for (int k = 0; k < kSlots; ++k) {
            QueueSlot& s = shared->slots[(start + k) % kSlots];
            if (pg_atomic_read_u32(&s.used) == 0) {
                if (pass == 0) break;  // not there: insert under the lock
                s.db = db;
                std::memcpy(s.name, name.data(), name.size());
                s.name[name.size()] = '\0';
                pg_write_barrier();
                pg_atomic_write_u32(&s.used, 1);
                return &s;
            }
            pg_read_barrier();
            if (slot_is(s, db, name)) return &s;
        }
        if (pass == 1 || !create) return nullptr;
        LWLockAcquire(shared->lock, LW_EXCLUSIVE);
        // Probe again under the lock: another backend may have inserted it.
        QueueSlot* made = nullptr;
        bool full = true;
        for (int k = 0; k < kSlots; ++k) {
            QueueSlot& s = shared->slots[(start + k) % kSlots];
            if (pg_atomic_read_u32(&s.used) == 0) {
                s.db = db;
                std::memcpy(s.name, name.data(), name.size());
                s.name[name.size()] = '\0';
                pg_write_barrier();
                pg_atomic_write_u32(&s.used, 1);
                made = &s;
                full = false;
                break;
            }
            if (slot_is(s, db, name)) {
                made = &s;
                full = false;
                break;
            }
        }
        if (full) shared->overflow = true;
        LWLockRelease(shared->lock);
        return made;
    }
    return nullptr;
}

// ---- this transaction's events ----------------------------------------------

struct Pending {
    int level;  // subtransaction nesting level that recorded it
    std::string queue;  // empty: the global counters
    bool dropped = false;
    std::int64_t values[kValues] = {};
    std::int64_t counters[static_cast<int>(Counter::count_)] = {};
};
std::vector<Pending>* pending = nullptr;

Pending& entry_for(std::string_view queue) {
    if (pending == nullptr) pending = new std::vector<Pending>();
    int level = GetCurrentTransactionNestLevel();
    if (!pending->empty() && pending->back().level == level && pending->back().queue == queue &&
        !pending->back().dropped)
        return pending->back();
    pending->push_back(Pending{level, std::string(queue)});
    return pending->back();
}

struct Moves {
    int counter = -1, counter2 = -1;
    int from = -1, to = -1;
};
Moves moves_of(TaskEvent e) {
    constexpr int c_enq = 0, c_done = 1, c_fail = 2, c_dead = 3, c_cancel = 4;
    switch (e) {
        case TaskEvent::enqueued: return {c_enq, -1, -1, g_pending};
        case TaskEvent::claimed: return {-1, -1, g_pending, g_processing};
        case TaskEvent::completed: return {c_done, -1, g_processing, g_complete};
        case TaskEvent::failed_retry: return {c_fail, -1, g_processing, g_pending};
        case TaskEvent::failed_dead: return {c_fail, c_dead, g_processing, g_dead};
        case TaskEvent::snoozed: return {-1, -1, g_processing, g_pending};
        case TaskEvent::cancelled_pending: return {c_cancel, -1, g_pending, g_cancelled};
        case TaskEvent::cancelled_processing: return {c_cancel, -1, g_processing, g_cancelled};
        case TaskEvent::revived: return {-1, -1, g_dead, g_pending};
        case TaskEvent::purged_pending: return {-1, -1, g_pending, -1};
        case TaskEvent::purged_dead:
        case TaskEvent::pruned_dead: return {-1, -1, g_dead, -1};
        case TaskEvent::purged_cancelled:
        case TaskEvent::pruned_cancelled: return {-1, -1, g_cancelled, -1};
        case TaskEvent::purged_complete:
        case TaskEvent::pruned_complete: return {-1, -1, g_complete, -1};
        case TaskEvent::count_: break;
    }
    return {};
}

void add(pg_atomic_uint64* v, std::int64_t n) {
    if (n != 0) pg_atomic_fetch_add_u64(v, n);
}

void apply_pending() {
    if (shared == nullptr) return;
    for (const Pending& p : *pending) {
        for (int c = 0; c < static_cast<int>(Counter::count_); ++c) add(&shared->counters[c], p.counters[c]);
        if (p.queue.empty()) continue;
        QueueSlot* s = find_slot(MyDatabaseId, p.queue, true);
        if (s == nullptr) continue;
        if (p.dropped) {
            for (int g = 0; g < kTaskGauges; ++g)
                pg_atomic_write_u64(&s->values[kTaskCounters + g], 0);
            continue;
        }
        for (int v = 0; v < kValues; ++v) add(&s->values[v], p.values[v]);
    }
}

void metrics_xact_callback(XactEvent event, void*) {
    if (pending == nullptr || pending->empty()) return;
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
            apply_pending();
            pending->clear();
            break;
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:  // a prepared transaction's events are not counted
            pending->clear();
            break;
        default:
            break;
    }
}

void metrics_subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    if (pending == nullptr || pending->empty()) return;
    int level = GetCurrentTransactionNestLevel();
    if (event == SUBXACT_EVENT_ABORT_SUB) {
        pending->erase(std::remove_if(pending->begin(), pending->end(),
                                      [&](const Pending& p) { return p.level >= level; }),
                       pending->end());
    } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
        for (Pending& p : *pending)
            if (p.level >= level) p.level = level - 1;
    }
}

Oid relfilenode_of(Oid relid) {
    Relation r = relation_open(relid, AccessShareLock);
    Oid node = r->rd_node.relNode;
    relation_close(r, AccessShareLock);
    return node;
}

}  // namespace

void define_metrics() {
    RegisterXactCallback(metrics_xact_callback, nullptr);
    RegisterSubXactCallback(metrics_subxact_callback, nullptr);
    if (!process_shared_preload_libraries_in_progress) return;
    prev_shmem_request = shmem_request_hook;
    shmem_request_hook = metrics_shmem_request;
    prev_shmem_startup = shmem_startup_hook;
    shmem_startup_hook = metrics_shmem_startup;
}

bool available() { return shared != nullptr; }

void count_at_commit(Counter counter, std::int64_t n) noexcept {
    if (shared == nullptr) return;
    try {
        entry_for("").counters[static_cast<int>(counter)] += n;
    } catch (...) {
        // Out of memory: the event goes uncounted.
    }
}

void count_now(Counter counter, std::int64_t n) noexcept {
    if (shared != nullptr) add(&shared->counters[static_cast<int>(counter)], n);
}

void note_tasks(std::string_view queue, TaskEvent event, std::int64_t n, std::int64_t due_later) noexcept {
    if (shared == nullptr || n == 0 || queue.empty()) return;
    try {
        Pending& p = entry_for(queue);
        Moves m = moves_of(event);
        if (m.counter >= 0) p.values[m.counter] += n;
        if (m.counter2 >= 0) p.values[m.counter2] += n;
        if (m.from >= 0) p.values[kTaskCounters + m.from] -= n;
        if (m.to >= 0) p.values[kTaskCounters + m.to] += n;
        p.values[kTaskCounters + g_later] += due_later;
    } catch (...) {
    }
}

void note_queue_dropped(std::string_view queue) noexcept {
    if (shared == nullptr || queue.empty()) return;
    try {
        if (pending == nullptr) pending = new std::vector<Pending>();
        Pending p{GetCurrentTransactionNestLevel(), std::string(queue)};
        p.dropped = true;
        pending->push_back(std::move(p));
    } catch (...) {
    }
}

void note_sweep(Micros started_at, Micros duration, bool failed) noexcept {
    if (shared == nullptr) return;
    add(&shared->counters[static_cast<int>(Counter::sweeps_run)], 1);
    if (failed) add(&shared->counters[static_cast<int>(Counter::sweeps_failed)], 1);
    pg_atomic_write_u64(&shared->last_sweep_at, static_cast<std::uint64_t>(started_at));
    pg_atomic_write_u64(&shared->last_sweep_duration, static_cast<std::uint64_t>(duration));
}

struct Identity {
    Oid extension, tasks, complete;
};
Identity current_identity() {
    Identity id{};
    pg_call([&] {
        id.extension = get_extension_oid("pg_coord", true);
        if (!OidIsValid(id.extension)) return;
        id.tasks = relfilenode_of(coord_relation_oid(CoordRelation::tasks));
        id.complete = relfilenode_of(coord_relation_oid(CoordRelation::tasks_complete));
    });
    return id;
}

// Valid for this database, its extension and the tables as they are now.
bool gauges_valid_here(const Identity& id) {
    LWLockAcquire(shared->lock, LW_SHARED);
    bool valid = shared->valid && !shared->overflow && shared->valid_db == MyDatabaseId &&
                 shared->valid_extension == id.extension && shared->valid_tasks_node == id.tasks &&
                 shared->valid_complete_node == id.complete;
    LWLockRelease(shared->lock);
    return valid;
}

bool gauges_need_count() {
    if (shared == nullptr) return false;
    Identity id = current_identity();
    if (!OidIsValid(id.extension) || gauges_valid_here(id)) return false;
    // Gauges are kept for one database: the background worker's takes them
    // over, another only while no database has them.
    LWLockAcquire(shared->lock, LW_SHARED);
    bool elsewhere = shared->valid && shared->valid_db != MyDatabaseId;
    LWLockRelease(shared->lock);
    if (!elsewhere) return true;
    const char* worker_db = worker_database();
    return pg_call([&] {
        char* name = get_database_name(MyDatabaseId);
        return name != nullptr && strcmp(name, worker_db) == 0;
    });
}

void set_gauges(const std::vector<QueueCount>& counts) {
    if (shared == nullptr) return;
    Identity id = current_identity();
    for (const QueueCount& c : counts) find_slot(MyDatabaseId, c.queue, true);
    LWLockAcquire(shared->lock, LW_EXCLUSIVE);
    for (QueueSlot& s : shared->slots) {
        if (pg_atomic_read_u32(&s.used) == 0 || s.db != MyDatabaseId) continue;
        const QueueCount* counted = nullptr;
        for (const QueueCount& c : counts)
            if (slot_is(s, MyDatabaseId, c.queue)) counted = &c;
        for (int g = 0; g < kTaskGauges; ++g)
            pg_atomic_write_u64(&s.values[kTaskCounters + g],
                                static_cast<std::uint64_t>(counted ? counted->gauges[g] : 0));
    }
    shared->valid = true;
    shared->overflow = false;
    shared->valid_db = MyDatabaseId;
    shared->valid_extension = id.extension;
    shared->valid_tasks_node = id.tasks;
    shared->valid_complete_node = id.complete;
    LWLockRelease(shared->lock);
}

void set_later(std::string_view queue, std::int64_t later) noexcept {
    QueueSlot* s = find_slot(MyDatabaseId, queue, false);
    if (s != nullptr) pg_atomic_write_u64(&s->values[kTaskCounters + g_later], static_cast<std::uint64_t>(later));
}

Snapshot read_snapshot() {
    Snapshot out{};
    if (shared == nullptr) return out;
    for (int c = 0; c < static_cast<int>(Counter::count_); ++c)
        out.counters[c] = static_cast<std::int64_t>(pg_atomic_read_u64(&shared->counters[c]));
    out.last_sweep_at = static_cast<Micros>(pg_atomic_read_u64(&shared->last_sweep_at));
    out.last_sweep_duration = static_cast<Micros>(pg_atomic_read_u64(&shared->last_sweep_duration));
    Identity id = current_identity();
    out.gauges_valid = OidIsValid(id.extension) && gauges_valid_here(id);
    for (QueueSlot& s : shared->slots) {
        if (pg_atomic_read_u32(&s.used) == 0) continue;
        pg_read_barrier();
        if (s.db != MyDatabaseId) continue;
        QueueSnapshot q;
        q.queue = s.name;
        for (int v = 0; v < kTaskCounters; ++v)
            q.counters[v] = static_cast<std::int64_t>(pg_atomic_read_u64(&s.values[v]));
        for (int g = 0; g < kTaskGauges; ++g)
            q.gauges[g] = static_cast<std::int64_t>(pg_atomic_read_u64(&s.values[kTaskCounters + g]));
        out.queues.push_back(std::move(q));
    }
    std::sort(out.queues.begin(), out.queues.end(),
              [](const QueueSnapshot& a, const QueueSnapshot& b) { return a.queue < b.queue; });
    return out;
}

}  // namespace coord::pg::metrics
