// The FIFO queues of waiting requests: one per (database, lease name) in the
// shared hash, oldest first. Joining and leaving take only the partition
// locks of the request's names; the head of a queue is its first slot (O(1)).
#include "core/common/error.hpp"
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/proc.h"
}

#include <algorithm>
#include <cstring>
#include <unordered_set>

namespace coord::pg {

namespace waiting {

std::uint64_t my_request = 0;

namespace {

bool exit_hook_registered = false;
// This backend's request: its names and slots (slot k waits for name k).
std::vector<NameRef> my_names;
std::vector<WaitSlot*> my_slots;

// Lease names locked/written in this transaction: a hash set, so a
// transaction touching n names costs O(n), not O(n^2).
std::unordered_set<std::string> touched;

void on_backend_exit(int, Datum) { leave_queue(); }

// n slots off the free list, or none.
std::vector<WaitSlot*> take_free_slots(std::size_t n) {
    std::vector<WaitSlot*> got;
    got.reserve(n);
    SpinLockAcquire(&shared->free_lock);
    while (got.size() < n && !slist_is_empty(&shared->free_slots))
        got.push_back(slot_of_free_node(slist_pop_head_node(&shared->free_slots)));
    if (got.size() < n) {
        for (WaitSlot* s : got) slist_push_head(&shared->free_slots, &s->in_free);
        got.clear();
    }
    SpinLockRelease(&shared->free_lock);
    return got;
}

void give_back_slots(const std::vector<WaitSlot*>& back) {
    if (back.empty()) return;
    SpinLockAcquire(&shared->free_lock);
    for (WaitSlot* s : back) slist_push_head(&shared->free_slots, &s->in_free);
    SpinLockRelease(&shared->free_lock);
}

}  // namespace

bool leave_queue(std::string* victim_name, std::string* victim_detail, std::optional<Promise>* promise,
                 PromiseFate fate) {
    if (shared == nullptr || my_request == 0) return false;
    if (promise) fate = PromiseFate::to_caller;
    const int me = MyProc->pgprocno;
    bool victim = false;
    {
        PartitionLocks partitions(my_names, LW_EXCLUSIVE);
        {
            LockGuard guard(backend_lock(me), LW_EXCLUSIVE);
            BackendWait& b = backends[me];
            if (b.request == my_request) {
                victim = b.state == BackendState::victim;
                if (victim && victim_detail) {
                    *victim_name = b.victim_name;
                    *victim_detail = b.victim_detail;
                }
                if (b.handed_token != 0) {
                    if (fate == PromiseFate::to_caller) *promise = Promise{b.handed_token, b.handed_by};
                    if (fate == PromiseFate::orphan && !my_names.empty()) {
                        LockGuard misc(misc_lock(), LW_EXCLUSIVE);
                        record_orphan_locked(b.database, b.handed_by, b.handed_token, b.owner,
                                             my_names.front().key.name);
                    }
                }
                b.state = BackendState::idle;
                b.request = 0;
                b.handed_token = 0;
            }
        }
        for (std::size_t k = 0; k < my_slots.size(); ++k) {
            WaitSlot* s = my_slots[k];
            NameQueue* q = s->queue;
            bool was_head = head_of(q) == s;
            dlist_delete(&s->in_queue);
            if (dlist_is_empty(&q->waiters))
                hash_search_with_hash_value(queues, &q->key, my_names[k].hash, HASH_REMOVE, nullptr);
            else if (was_head)
                wake(head_of(q)->procno);
            pg_atomic_fetch_sub_u32(&shared->used_slots, 1);
        }
    }
    give_back_slots(my_slots);
    my_slots.clear();
    my_names.clear();
    my_request = 0;
    return victim;
}

Registration::Registration(std::string_view owner, Oid role, const std::vector<std::string>& names,
                           Micros since, Micros deadline, Micros ttl) {
    if (!exit_hook_registered) {
        pg_call([] { before_shmem_exit(on_backend_exit, 0); });
        exit_hook_registered = true;
    }
    leave_queue();  // a leftover of an earlier call cannot survive, but be sure
    std::vector<NameRef> refs;
    refs.reserve(names.size());
    for (const std::string& n : names) refs.push_back(name_ref(MyDatabaseId, n));
    std::vector<WaitSlot*> free_slots = take_free_slots(names.size());
    if (free_slots.empty() && !names.empty())
        throw Error(sqlstate::insufficient_resources,
                    fmt::format("no room to queue a wait for {} lease name(s)", names.size()),
                    fmt::format("All {} wait slots are in use.", shared->nslots),
                    "Raise coord.max_wait_slots (needs a server restart).");
    char owner_buf[kOwnerSize];
    copy_text(owner_buf, sizeof owner_buf, owner);
    const int me = MyProc->pgprocno;
    bool out_of_memory = false;
    my_names = refs;
    {
        // The arrival number is taken while every partition of the request
        // is locked: two requests sharing a name are queued in one order in
        // all their queues.
        PartitionLocks partitions(refs, LW_EXCLUSIVE);
        std::uint64_t request = pg_atomic_fetch_add_u64(&shared->next_request, 1);
        {
            LockGuard guard(backend_lock(me), LW_EXCLUSIVE);
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
            std::memcpy(b.owner, owner_buf, kOwnerSize);
            b.victim_name[0] = b.victim_detail[0] = '\0';
        }
        my_request = request;
        for (std::size_t k = 0; k < refs.size(); ++k) {
            bool found = false;
            auto* q = static_cast<NameQueue*>(
                hash_search_with_hash_value(queues, &refs[k].key, refs[k].hash, HASH_ENTER_NULL, &found));
            if (q == nullptr) {
                out_of_memory = true;
                break;
            }
            if (!found) dlist_init(&q->waiters);
            WaitSlot* s = free_slots[k];
            s->procno = me;
            s->request = request;
            s->queue = q;
            dlist_push_tail(&q->waiters, &s->in_queue);
            my_slots.push_back(s);
            pg_atomic_fetch_add_u32(&shared->used_slots, 1);
        }
    }
    if (out_of_memory) {
        give_back_slots(std::vector<WaitSlot*>(free_slots.begin() + static_cast<long>(my_slots.size()),
                                               free_slots.end()));
        my_names.resize(my_slots.size());
        leave_queue();
        throw Error(sqlstate::insufficient_resources,
                    fmt::format("no room to queue a wait for {} lease name(s)", names.size()),
                    "The shared hash of waited-for names is full.",
                    "Raise coord.max_wait_slots (needs a server restart).");
    }
}

bool Registration::at_head() const {
    // A request joins a queue only at its tail with a larger arrival number,
    // so being the head stays true until this request leaves: the names can
    // be checked one by one.
    for (std::size_t k = 0; k < my_slots.size(); ++k) {
        LockGuard guard(partition_lock(my_names[k].partition()), LW_SHARED);
        if (head_of(my_slots[k]->queue) != my_slots[k]) return false;
    }
    return true;
}

bool Registration::chosen_as_victim() const {
    LockGuard guard(backend_lock(MyProc->pgprocno), LW_SHARED);
    return backends[MyProc->pgprocno].state == BackendState::victim;
}

std::optional<Promise> Registration::promise() const {
    std::optional<Promise> p;
    LockGuard guard(backend_lock(MyProc->pgprocno), LW_SHARED);
    const BackendWait& b = backends[MyProc->pgprocno];
    if (b.request == my_request && b.handed_token != 0) p = Promise{b.handed_token, b.handed_by};
    return p;
}

void Registration::forget(const Promise& p) const {
    LockGuard guard(backend_lock(MyProc->pgprocno), LW_EXCLUSIVE);
    BackendWait& b = backends[MyProc->pgprocno];
    if (b.request == my_request && b.handed_token == p.token && b.handed_by == p.by) b.handed_token = 0;
}

std::vector<WaiterCopy> copy_waiters(Oid db) {
    std::vector<WaiterCopy> out;
    if (shared == nullptr || pg_atomic_read_u32(&shared->used_slots) == 0) return out;
    // Copy the raw data under the locks, build strings after releasing them.
    struct Raw {
        int procno;
        int pid;
        std::uint64_t request;
        TimestampTz since;
        TimestampTz deadline;
        char owner[kOwnerSize];
        char name[kNameSize];
    };
    // Sized by the used-slot count read before the locks (no allocation
    // under them); if more slots filled up meanwhile, copy again.
    std::vector<Raw> raw;
    std::size_t n = 0;
    for (bool complete = false; !complete;) {
        raw.resize(pg_atomic_read_u32(&shared->used_slots) + 16);
        n = 0;
        complete = true;
        PartitionLocks all(LW_SHARED);
        HASH_SEQ_STATUS seq;
        hash_seq_init(&seq, queues);
        for (NameQueue* q; complete && (q = static_cast<NameQueue*>(hash_seq_search(&seq))) != nullptr;) {
            if (q->key.database != db) continue;
            for (dlist_node* cur = q->waiters.head.next; cur != &q->waiters.head; cur = cur->next) {
                const WaitSlot* s = slot_of_queue_node(cur);
                LockGuard guard(backend_lock(s->procno), LW_SHARED);
                const BackendWait& b = backends[s->procno];
                if (b.request != s->request || b.state != BackendState::waiting) continue;
                if (n == raw.size()) {
                    complete = false;
                    break;
                }
                Raw& r = raw[n++];
                r.procno = s->procno;
                r.pid = b.pid;
                r.request = s->request;
                r.since = b.since;
                r.deadline = b.deadline;
                std::memcpy(r.owner, b.owner, kOwnerSize);
                std::memcpy(r.name, q->key.name, kNameSize);
            }
            if (!complete) hash_seq_term(&seq);
        }
    }
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back({raw[i].procno, raw[i].pid, raw[i].request, raw[i].owner, raw[i].name, raw[i].since,
                       raw[i].deadline});
    std::sort(out.begin(), out.end(), [](const WaiterCopy& a, const WaiterCopy& b) {
        return a.name != b.name ? a.name < b.name : a.request < b.request;
    });
    return out;
}

void wake_heads_of_touched() noexcept {
    if (touched.empty()) return;
    if (shared != nullptr && pg_atomic_read_u32(&shared->used_slots) > 0) {
        for (const std::string& name : touched) {
            NameRef ref = name_ref(MyDatabaseId, name);
            LockGuard guard(partition_lock(ref.partition()), LW_SHARED);
            if (NameQueue* q = find_queue(ref)) wake(head_of(q)->procno);
        }
    }
    touched.clear();
}

void forget_touched() noexcept { touched.clear(); }

}  // namespace waiting

using namespace waiting;

bool someone_waits_for(std::string_view name) {
    if (shared == nullptr || pg_atomic_read_u32(&shared->used_slots) == 0) return false;
    NameRef ref = name_ref(MyDatabaseId, name);
    LockGuard guard(partition_lock(ref.partition()), LW_SHARED);
    return find_queue(ref) != nullptr;
}

void note_lease_touched(std::string_view name) {
    if (shared == nullptr) return;
    touched.emplace(name);
}

std::optional<HandoffCandidate> first_waiter_of(std::string_view name) {
    if (shared == nullptr || pg_atomic_read_u32(&shared->used_slots) == 0) return std::nullopt;
    NameRef ref = name_ref(MyDatabaseId, name);
    bool found = false;
    HandoffCandidate c{};
    char owner[kOwnerSize];
    {
        LockGuard guard(partition_lock(ref.partition()), LW_SHARED);
        if (NameQueue* q = find_queue(ref)) {
            const WaitSlot* s = head_of(q);
            LockGuard backend(backend_lock(s->procno), LW_SHARED);
            const BackendWait& b = backends[s->procno];
            if (b.request == s->request && b.state == BackendState::waiting && b.name_count == 1) {
                found = true;
                c.procno = s->procno;
                c.request = s->request;
                c.ttl = b.ttl;
                c.role = b.role;
                std::memcpy(owner, b.owner, kOwnerSize);
            }
        }
    }
    if (!found) return std::nullopt;
    c.owner = owner;
    return c;
}

std::vector<QueueDepth> queue_depths() {
    std::vector<QueueDepth> out;
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

}  // namespace coord::pg
