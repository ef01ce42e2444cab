// Waiting's shared memory: the layout (waiting_internal.hpp), its start-up,
// the GUCs and the transaction callbacks that end a transaction's part in
// waiting (wake-ups, deadlock records, hand-offs returned before commit).
#include "core/common/error.hpp"
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/claim_waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "access/xact.h"
#include "common/hashfn.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
}

#include <algorithm>
#include <cstring>

namespace coord::pg {

namespace waiting {

WaitShared* shared = nullptr;
BackendWait* backends = nullptr;
WaitSlot* slots = nullptr;
SessionOwners* session_owners = nullptr;
HTAB* queues = nullptr;
int deadlock_timeout_ms = 1000;
int queue_depth_alert = 10;

namespace {

int max_wait_slots = 4096;
shmem_request_hook_type prev_shmem_request = nullptr;
shmem_startup_hook_type prev_shmem_startup = nullptr;
constexpr const char* kTranche = "pg_coord_waiting";

Size backends_offset() { return MAXALIGN(sizeof(WaitShared)); }
Size slots_offset() { return add_size(backends_offset(), MAXALIGN(mul_size(MaxBackends, sizeof(BackendWait)))); }
Size session_owners_offset() { return add_size(slots_offset(), MAXALIGN(mul_size(max_wait_slots, sizeof(WaitSlot)))); }
Size struct_size() { return add_size(session_owners_offset(), mul_size(MaxBackends, sizeof(SessionOwners))); }
Size hash_size() { return hash_estimate_size(max_wait_slots, sizeof(NameQueue)); }

std::uint32_t key_hash(const void* key, Size) {
    const NameKey* k = static_cast<const NameKey*>(key);
    std::uint32_t h = hash_bytes(reinterpret_cast<const unsigned char*>(k->name),
                                 static_cast<int>(strnlen(k->name, kNameSize)));
    return hash_combine(h, hash_uint32(k->database));
}

int key_compare(const void* a, const void* b, Size) {
    const NameKey* x = static_cast<const NameKey*>(a);
    const NameKey* y = static_cast<const NameKey*>(b);
    if (x->database != y->database) return x->database < y->database ? -1 : 1;
    return std::strncmp(x->name, y->name, kNameSize);
}

void waiting_shmem_request() {
    if (prev_shmem_request) prev_shmem_request();
    RequestAddinShmemSpace(add_size(struct_size(), hash_size()));
    RequestNamedLWLockTranche(kTranche, lock_count(MaxBackends));
}

void waiting_shmem_startup() {
    if (prev_shmem_startup) prev_shmem_startup();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    char* base = static_cast<char*>(ShmemInitStruct("pg_coord waiting", struct_size(), &found));
    shared = reinterpret_cast<WaitShared*>(base);
    backends = reinterpret_cast<BackendWait*>(base + backends_offset());
    slots = reinterpret_cast<WaitSlot*>(base + slots_offset());
    session_owners = reinterpret_cast<SessionOwners*>(base + session_owners_offset());
    if (!found) {
        std::memset(base, 0, struct_size());
        shared->locks = GetNamedLWLockTranche(kTranche);
        pg_atomic_init_u64(&shared->next_request, 1);
        pg_atomic_init_u32(&shared->used_slots, 0);
        shared->next_deadlock_id = 1;
        shared->nbackends = MaxBackends;
        shared->nslots = max_wait_slots;
        SpinLockInit(&shared->free_lock);
        slist_init(&shared->free_slots);
        for (int i = max_wait_slots - 1; i >= 0; --i) slist_push_head(&shared->free_slots, &slots[i].in_free);
    }
    HASHCTL info;
    std::memset(&info, 0, sizeof info);
    info.keysize = sizeof(NameKey);
    info.entrysize = sizeof(NameQueue);
    info.hash = key_hash;
    info.match = key_compare;
    info.num_partitions = kPartitions;
    queues = ShmemInitHash("pg_coord waiting queues", max_wait_slots, max_wait_slots, &info,
                           HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_PARTITION);
    LWLockRelease(AddinShmemInitLock);
}

void waiting_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
                              SubTransactionId parentSubid, void*) {
    if (event == SUBXACT_EVENT_ABORT_SUB)
        settle_claimed_records(false, mySubid);
    else if (event == SUBXACT_EVENT_COMMIT_SUB)
        claimed_records_to_parent(mySubid, parentSubid);
}

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
            forget_touched();
            settle_claimed_records(false);
            break;
        default:
            break;
    }
}

}  // namespace

NameRef name_ref(Oid database, std::string_view name) {
    NameRef r;
    std::memset(&r.key, 0, sizeof r.key);
    r.key.database = database;
    std::memcpy(r.key.name, name.data(), std::min(name.size(), kNameSize - 1));
    r.hash = key_hash(&r.key, sizeof r.key);
    return r;
}

PartitionLocks::PartitionLocks(const std::vector<NameRef>& names, LWLockMode mode) {
    for (const NameRef& n : names) held_.push_back(n.partition());
    std::sort(held_.begin(), held_.end());
    held_.erase(std::unique(held_.begin(), held_.end()), held_.end());
    for (int p : held_) LWLockAcquire(partition_lock(p), mode);
}

PartitionLocks::PartitionLocks(LWLockMode mode) {
    for (int p = 0; p < kPartitions; ++p) {
        held_.push_back(p);
        LWLockAcquire(partition_lock(p), mode);
    }
}

PartitionLocks::~PartitionLocks() {
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) LWLockRelease(partition_lock(*it));
}

NameQueue* find_queue(const NameRef& ref) {
    return static_cast<NameQueue*>(hash_search_with_hash_value(queues, &ref.key, ref.hash, HASH_FIND, nullptr));
}

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

void wake(int procno) { SetLatch(&GetPGProcByNumber(procno)->procLatch); }

}  // namespace waiting

using namespace waiting;

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
    define_claim_waiting();  // claimers in coord.claim(wait_for): the same plumbing
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

int queue_depth_alert_threshold() { return queue_depth_alert; }

}  // namespace coord::pg
