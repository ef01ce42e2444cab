// The ring of detected deadlocks in shared memory and their way into
// coord.deadlock_history: a record is claimed by the transaction that
// inserts it, free once that commits, pending again when it (or the
// subtransaction that inserted it) rolls back.
#include "pg/common/datum.hpp"
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "access/xact.h"
#include "storage/proc.h"
}

#include <algorithm>

namespace coord::pg {

namespace waiting {

namespace {

// Deadlock records inserted in this transaction, with the subtransaction
// that inserted them (a rolled-back subtransaction puts its records back).
struct Claim {
    std::uint64_t id;
    SubTransactionId subxact;
};
std::vector<Claim> claimed_records;

}  // namespace

void add_deadlock_record_locked(const WaitCycle& cycle, const std::string& text, const std::string& json,
                                const std::string& reason, int victim_pid, Micros now) {
    const WaitEdge& v = cycle.edges.front();
    // A free entry, else the oldest pending one.
    DeadlockRecord* slot = nullptr;
    for (DeadlockRecord& r : shared->ring)
        if (r.state == RecordState::free) {
            slot = &r;
            break;
        }
    if (slot == nullptr) {
        for (DeadlockRecord& r : shared->ring)
            if (r.state == RecordState::pending && (slot == nullptr || r.id < slot->id)) slot = &r;
        if (slot) ++shared->deadlocks_dropped;
    }
    if (slot == nullptr) return;
    slot->state = RecordState::pending;
    slot->claimed_by = -1;
    slot->database = MyDatabaseId;
    slot->id = shared->next_deadlock_id++;
    slot->detected_at = now;
    slot->victim_pid = victim_pid;
    copy_text(slot->victim_owner, sizeof slot->victim_owner, v.waiter);
    copy_text(slot->victim_name, sizeof slot->victim_name, v.name);
    copy_text(slot->cycle_text, sizeof slot->cycle_text, text);
    if (json.size() < sizeof slot->cycle_json)
        copy_text(slot->cycle_json, sizeof slot->cycle_json, json);
    else
        copy_text(slot->cycle_json, sizeof slot->cycle_json, "[]");  // too long to keep whole
    copy_text(slot->reason, sizeof slot->reason, reason);
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
    LockGuard guard(misc_lock(), LW_SHARED);
    for (const DeadlockRecord& r : shared->ring)
        if (r.state == RecordState::pending && r.database == MyDatabaseId) return true;
    return false;
}

void settle_claimed_records(bool committed, SubTransactionId from_subxact) noexcept {
    if (claimed_records.empty() || shared == nullptr) {
        claimed_records.clear();
        return;
    }
    auto settles = [&](const Claim& c) { return c.subxact >= from_subxact; };
    {
        LockGuard guard(misc_lock(), LW_EXCLUSIVE);
        for (DeadlockRecord& r : shared->ring) {
            if (r.state != RecordState::claimed || r.claimed_by != MyProc->pgprocno) continue;
            for (const Claim& c : claimed_records)
                if (c.id == r.id && settles(c)) r.state = committed ? RecordState::free : RecordState::pending;
        }
    }
    claimed_records.erase(std::remove_if(claimed_records.begin(), claimed_records.end(), settles),
                          claimed_records.end());
}

void claimed_records_to_parent(SubTransactionId sub, SubTransactionId parent) noexcept {
    for (Claim& c : claimed_records)
        if (c.subxact >= sub) c.subxact = parent;
}

}  // namespace waiting

using namespace waiting;

int persist_deadlocks(Spi& spi) {
    if (shared == nullptr) return 0;
    std::vector<DeadlockRecord> raw;
    raw.reserve(kRingSize);
    {
        LockGuard guard(misc_lock(), LW_EXCLUSIVE);
        for (DeadlockRecord& r : shared->ring) {
            if (r.state != RecordState::pending || r.database != MyDatabaseId) continue;
            r.state = RecordState::claimed;
            r.claimed_by = MyProc->pgprocno;
            raw.push_back(r);
        }
    }
    SubTransactionId subxact = GetCurrentSubTransactionId();
    for (const DeadlockRecord& r : raw) claimed_records.push_back({r.id, subxact});
    static Statement insert(
        "INSERT INTO coord.deadlock_history (detected_at, cycle, cycle_text, victim, victim_name, "
        "victim_pid, reason) VALUES ($1, $2::jsonb, $3, $4, $5, $6, $7)",
        {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID});
    for (const DeadlockRecord& r : raw)
        spi.run(insert, {timestamptz_param(r.detected_at), text_param(r.cycle_json), text_param(r.cycle_text),
                         text_param(r.victim_owner), text_param(r.victim_name), int32_param(r.victim_pid),
                         text_param(r.reason)});
    return static_cast<int>(raw.size());
}

}  // namespace coord::pg
