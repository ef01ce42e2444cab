// Hand-off promises: a release writes the lease over to the first waiter of
// a single-name request and promises it the holding; a promise whose waiter
// left before taking it (cancelled, timed out, exited) is an orphan,
// returned by the promising transaction just before it commits or by the
// next sweep (README, "Hand-off").
#include "core/common/error.hpp"
#include "pg/common/datum.hpp"
#include "pg/leases/leases.hpp"
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "access/transam.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/snapmgr.h"
}

#include <algorithm>
#include <cstring>

namespace coord::pg {

namespace waiting {

bool promised_in_xact = false;

void record_orphan_locked(Oid db, TransactionId by, Token token, const char* owner, const char* name) {
    OrphanedHandoff* free_entry = nullptr;
    for (OrphanedHandoff& o : shared->orphans)
        if (!o.used) {
            free_entry = &o;
            break;
        }
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
    LockGuard guard(misc_lock(), LW_EXCLUSIVE);
    record_orphan_locked(MyDatabaseId, p.by, p.token, owner_buf, name_buf);
}

// Read in a fresh snapshot (READ COMMITTED) once the promising transaction
// has ended.
bool promise_kept(const Promise& p, std::string_view owner, std::string_view name) {
    return handed_over_to(read_lease(name), owner, p.token, now_micros());
}

namespace {

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
    {
        LockGuard guard(misc_lock(), LW_EXCLUSIVE);
        for (OrphanedHandoff& o : shared->orphans) {
            if (!o.used || o.database != MyDatabaseId || !pick(o)) continue;
            raw.push_back(o);
            o.used = false;
        }
    }
    for (const OrphanedHandoff& o : raw) out.push_back({o.by, o.token, o.owner, o.name});
    return out;
}

bool orphans_of(TransactionId xid) {
    if (shared == nullptr || !TransactionIdIsValid(xid)) return false;
    LockGuard guard(misc_lock(), LW_SHARED);
    for (const OrphanedHandoff& o : shared->orphans)
        if (o.used && o.database == MyDatabaseId && o.by == xid) return true;
    return false;
}

}  // namespace

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

}  // namespace waiting

using namespace waiting;

int return_orphaned_handoffs(Spi& spi) {
    // Only those whose promising transaction has ended: a commit made the
    // holding (returned here), a rollback nothing (the compare-and-set
    // finds another token and changes nothing).
    if (shared == nullptr) return 0;
    std::vector<TransactionId> open;
    {
        LockGuard guard(misc_lock(), LW_SHARED);
        for (const OrphanedHandoff& o : shared->orphans)
            if (o.used && o.database == MyDatabaseId) open.push_back(o.by);
    }
    if (open.empty()) return 0;
    std::vector<TransactionId> running;
    for (TransactionId xid : open)
        if (transaction_in_progress(xid)) running.push_back(xid);
    std::vector<OrphanCopy> ended = take_orphans([&](const OrphanedHandoff& o) {
        return std::find(running.begin(), running.end(), o.by) == running.end();
    });
    int returned = 0;
    for (const OrphanCopy& o : ended)
        if (return_handed_holding(spi, o.name, o.owner, o.token)) ++returned;
    return returned;
}

bool promise_handoff(const HandoffCandidate& candidate, Token token) {
    TransactionId xid = pg_call([] { return GetTopTransactionId(); });
    LockGuard guard(backend_lock(candidate.procno), LW_EXCLUSIVE);
    BackendWait& b = backends[candidate.procno];
    bool promised = b.request == candidate.request && b.state == BackendState::waiting;
    if (promised) {
        b.handed_token = token;
        b.handed_by = xid;
        promised_in_xact = true;
    }
    return promised;
}

}  // namespace coord::pg
