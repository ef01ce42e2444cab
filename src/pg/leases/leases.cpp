#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "pg/leases/leases.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/direct_write.hpp"
#include "pg/common/index_lookup.hpp"
#include "pg/common/token_allocator.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "storage/bufmgr.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
}

namespace coord::pg {

namespace {

// A lease row is changed by compare-and-set: read without a row lock, let
// the core decide, then update exactly the row version that was read
// (heap_update waits for a concurrent writer; if it committed a change, the
// update reports it and the call re-reads). A busy acquire writes nothing.
// A fence check share-locks the version it read in the same way.
constexpr int kMaxCompareAndSetRounds = 100;

// The lease row as plain data, so that it can leave pg_call (see guard.hpp).
struct RawLeaseRow {
    bool found;
    bool free;
    char owner[kMaxOwnerBytes + 1];
    std::size_t owner_length;
    Token token;
    Micros acquired_at;
    Micros expires_at;
};

// A lease row read for a change: its values, the row version's address,
// and the snapshot it was read with. The snapshot stays registered until the
// update (LeaseRowRead's destructor), so the version cannot be pruned and its
// slot reused in between.
struct LeaseRowRef {
    RawLeaseRow row;
    ItemPointerData tid;
    Snapshot snapshot;
};

struct LeaseRelations {
    Oid table;
    Oid index;
};

LeaseRelations lease_relations() {
    return {coord_relation_oid(CoordRelation::lease_state),
            coord_relation_oid(CoordRelation::lease_state_pkey)};
}

// What a lease row is read for: to look at it, to lock it (a fence check),
// or to replace it (compare-and-set). The last two keep the table lock and
// the snapshot (see LeaseRowRef).
enum class LeaseAccess { look, lock, change };

// Reads a lease row through the primary-key index without the executor (an
// SPI SELECT costs more than the rest of a call). The snapshot is the
// statement's (fresh under READ COMMITTED), after a CommandCounterIncrement
// so that this transaction's own earlier lease changes are seen. The table
// lock is that of the SQL the access replaces: SELECT, SELECT ... FOR SHARE,
// UPDATE. Column numbers follow CREATE TABLE coord.lease_state (10_leases.sql).
LeaseRowRef scan_lease_row(std::string_view name, LeaseAccess access) {
    LeaseRowRef ref{};
    LeaseRowRef* out = &ref;
    pg_call([&] {
        RawLeaseRow& row = out->row;
        if (access == LeaseAccess::lock) {
            // The executor's checks for SELECT ... FOR SHARE (ExecCheckXactReadOnly).
            PreventCommandIfReadOnly("SELECT FOR SHARE");
            PreventCommandIfParallelMode("SELECT FOR SHARE");
        }
        CommandCounterIncrement();
        LeaseRelations rel = lease_relations();
        LOCKMODE table_lock = access == LeaseAccess::look   ? AccessShareLock
                              : access == LeaseAccess::lock ? RowShareLock
                                                            : RowExclusiveLock;
        Relation table = table_open(rel.table, table_lock);
        text* key_text = cstring_to_text_with_len(name.data(), static_cast<int>(name.size()));
        ScanKeyData key;
        ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(key_text));
        use_index_collations(&key, 1, rel.index);
        Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
        SysScanDesc scan = systable_beginscan(table, rel.index, true, snapshot, 1, &key);
        HeapTuple tuple = systable_getnext(scan);
        if (HeapTupleIsValid(tuple)) {
            TupleDesc desc = RelationGetDescr(table);
            bool isnull = false;
            row.found = true;
            out->tid = tuple->t_self;
            Datum owner = heap_getattr(tuple, 2, desc, &isnull);
            row.free = isnull;
            if (!isnull) {
                text* owner_text = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(owner)));
                row.owner_length = Min(VARSIZE_ANY_EXHDR(owner_text), kMaxOwnerBytes);
                memcpy(row.owner, VARDATA_ANY(owner_text), row.owner_length);
            }
            row.token = DatumGetInt64(heap_getattr(tuple, 3, desc, &isnull));
            Datum acquired_at = heap_getattr(tuple, 4, desc, &isnull);
            row.acquired_at = isnull ? 0 : DatumGetTimestampTz(acquired_at);
            Datum expires_at = heap_getattr(tuple, 5, desc, &isnull);
            row.expires_at = isnull ? 0 : DatumGetTimestampTz(expires_at);
        }
        systable_endscan(scan);
        if (access != LeaseAccess::look && row.found) {
            out->snapshot = snapshot;
        } else {
            UnregisterSnapshot(snapshot);
        }
        // A locker or writer keeps its table lock until the transaction ends.
        table_close(table, access == LeaseAccess::look ? AccessShareLock : NoLock);
    });
    return ref;
}

RawLeaseRow read_lease_row(std::string_view name) {
    return scan_lease_row(name, LeaseAccess::look).row;
}

// Owns the snapshot of a LeaseRowRef until the lock or change is done.
class LeaseRowRead {
public:
    LeaseRowRead(std::string_view name, LeaseAccess access) : ref_(scan_lease_row(name, access)) {}
    ~LeaseRowRead() {
        if (ref_.snapshot != nullptr) UnregisterSnapshot(ref_.snapshot);
    }
    LeaseRowRead(const LeaseRowRead&) = delete;
    LeaseRowRead& operator=(const LeaseRowRead&) = delete;
    const LeaseRowRef& ref() const { return ref_; }

private:
    LeaseRowRef ref_;
};

std::optional<LeaseRecord> record_from(const RawLeaseRow& row) {
    if (!row.found) return std::nullopt;
    LeaseRecord record;
    if (!row.free) record.owner = std::string(row.owner, row.owner_length);
    record.token = row.token;
    record.acquired_at = row.acquired_at;
    record.expires_at = row.expires_at;
    return record;
}

enum class SetResult {
    done,
    changed,  // another transaction changed the row since it was read: re-read
    locked,   // (wait = false only) another transaction is changing it now
};

// What heap_update or heap_lock_tuple on the row version that was read
// means for the caller (inside pg_call).
SetResult outcome_on_version_read(TM_Result result, bool waited, std::string_view name,
                                  const char* action) {
    // A transaction snapshot would read the same old version again.
    if ((result == TM_Updated || result == TM_Deleted) && IsolationUsesXactSnapshot())
        ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                        errmsg("could not serialize access due to concurrent update")));
    if (result != TM_Ok && result != TM_Updated && result != TM_Deleted &&
        result != TM_SelfModified && !(result == TM_BeingModified && !waited))
        elog(ERROR, "pg_coord: unexpected result %d %s lease \"%.*s\"", static_cast<int>(result),
             action, static_cast<int>(name.size()), name.data());
    return result == TM_Ok ? SetResult::done
           : result == TM_BeingModified ? SetResult::locked
                                        : SetResult::changed;
}

// Replaces the row version `read` found with `next`. With `wait`, a
// concurrent writer is waited out (then: done or changed).
SetResult compare_and_set(const LeaseRowRef& read, std::string_view name, const LeaseRecord& next,
                          bool wait = true) {
    return pg_call([&] {
        // The executor's checks for an UPDATE (ExecCheckXactReadOnly).
        PreventCommandIfReadOnly("UPDATE");
        PreventCommandIfParallelMode("UPDATE");
        Relation table = table_open(lease_relations().table, NoLock);  // locked by the read
        Datum values[5];
        bool nulls[5] = {false, !next.owner, false, !next.owner, !next.owner};
        values[0] = PointerGetDatum(cstring_to_text_with_len(name.data(), static_cast<int>(name.size())));
        values[1] = next.owner ? PointerGetDatum(cstring_to_text_with_len(
                                     next.owner->data(), static_cast<int>(next.owner->size())))
                               : Datum(0);
        values[2] = Int64GetDatum(next.token);
        values[3] = TimestampTzGetDatum(next.acquired_at);
        values[4] = TimestampTzGetDatum(next.expires_at);
        HeapTuple new_version = heap_form_tuple(RelationGetDescr(table), values, nulls);
        ItemPointerData old_version = read.tid;
        TM_FailureData failure;
        LockTupleMode lock_mode;
        TM_Result result = heap_update(table, &old_version, new_version, GetCurrentCommandId(true),
                                       InvalidSnapshot, wait, &failure, &lock_mode);
        if (result == TM_Ok && !HeapTupleIsHeapOnly(new_version))
            insert_index_entries(table, new_version);
        table_close(table, NoLock);
        return outcome_on_version_read(result, wait, name, "updating");
    });
}

// Share-locks the row version `read` found, as SELECT ... FOR SHARE does: a
// change of the lease then waits until this transaction ends, and this
// waits for a change in progress. False when another transaction changed
// the row since it was read (the caller re-reads).
bool share_lock(const LeaseRowRef& read, std::string_view name) {
    return pg_call([&] {
        Relation table = table_open(lease_relations().table, NoLock);  // locked by the read
        HeapTupleData version;
        version.t_self = read.tid;
        Buffer buffer = InvalidBuffer;
        TM_FailureData failure;
        TM_Result result = heap_lock_tuple(table, &version, GetCurrentCommandId(true),
                                           LockTupleShare, LockWaitBlock,
                                           /*follow_update=*/true, &buffer, &failure);
        if (BufferIsValid(buffer)) ReleaseBuffer(buffer);
        table_close(table, NoLock);
        return outcome_on_version_read(result, true, name, "locking") == SetResult::done;
    });
}

// Inserts the first row of a name; false when a concurrent session did.
bool insert_first(Spi& spi, std::string_view name, const LeaseRecord& next) {
    static Statement insert(
        "INSERT INTO coord.lease_state (name, owner, token, acquired_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}, /*generic_plan=*/true);
    return spi.run(insert, {text_param(name), text_param(next.owner), int64_param(next.token),
                            timestamptz_param(next.acquired_at),
                            timestamptz_param(next.expires_at)}) == 1;
}

// What a decision function returns: its answer, and the row to write (none:
// nothing changes).
template <typename R>
struct LeaseChange {
    R answer;
    std::optional<LeaseRecord> next;
};

[[noreturn]] void throw_kept_changing(std::string_view name) {
    throw Error(sqlstate::serialization_failure, fmt::format("lease \"{}\" kept changing concurrently; retry", name));
}

template <typename Decide>
auto change_lease(Spi& spi, std::string_view name, Decide&& decide) {
    for (int round = 0; round < kMaxCompareAndSetRounds; ++round) {
        LeaseRowRead read(name, LeaseAccess::change);
        std::optional<LeaseRecord> current = record_from(read.ref().row);
        auto change = decide(current, now_micros());
        if (!change.next) return change.answer;
        if (current ? compare_and_set(read.ref(), name, *change.next) == SetResult::done
                    : insert_first(spi, name, *change.next))
            return change.answer;
    }
    throw_kept_changing(name);
}

// A token handed out must survive a crash: the transaction that grants it
// commits synchronously even where the session runs synchronous_commit=off.
void force_synchronous_commit() {
    pg_call([] {
        set_config_option("synchronous_commit", "on", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_LOCAL, true, 0, false);
    });
}

LeaseRecord freed(const LeaseRecord& r) { return LeaseRecord{std::nullopt, r.token, 0, 0}; }

// What a release writes: the lease handed to the first waiter when there is
// one that can take it so (waiting.hpp, "Hand-off"), else a free lease.
LeaseRecord released(const LeaseRecord& current, std::string_view name, Micros now) {
    std::optional<HandoffCandidate> next = first_waiter_of(name);
    if (!next) return freed(current);
    LeaseRecord handed = hand_over(current, next->owner, now, next->ttl, allocate_token);
    if (!promise_handoff(*next, handed.token)) return freed(current);
    force_synchronous_commit();
    return handed;
}

}  // namespace

std::optional<LeaseRecord> lease_from_row(const std::optional<Row>& row) {
    if (!row) return std::nullopt;
    LeaseRecord record;
    record.owner = row->get_text(1);
    record.token = row->get_int64(2).value_or(0);
    record.acquired_at = row->get_timestamptz(3).value_or(0);
    record.expires_at = row->get_timestamptz(4).value_or(0);
    return record;
}

std::optional<LeaseRecord> read_lease(std::string_view name) {
    return record_from(read_lease_row(name));
}

std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 Micros ttl) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        AcquireDecision d = decide_acquire(current, owner, now, ttl, allocate_token);
        if (!d.write_needed()) return LeaseChange<std::optional<Token>>{std::nullopt, std::nullopt};
        if (d.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
        return LeaseChange<std::optional<Token>>{
            d.token, LeaseRecord{std::string(owner), d.token, d.acquired_at, d.expires_at}};
    });
}

AcquireTry try_acquire_without_waiting(Spi& spi, std::string_view name, std::string_view owner,
                                       Micros ttl, bool new_holding_allowed) {
    for (int round = 0; round < kMaxCompareAndSetRounds; ++round) {
        LeaseRowRead read(name, LeaseAccess::change);
        std::optional<LeaseRecord> current = record_from(read.ref().row);
        Micros now = now_micros();
        if (!new_holding_allowed && acquire_grants_new_holding(current, now)) return {};
        AcquireDecision d = decide_acquire(current, owner, now, ttl, allocate_token);
        if (!d.write_needed()) return {std::nullopt, current->expires_at};
        if (d.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
        LeaseRecord next{std::string(owner), d.token, d.acquired_at, d.expires_at};
        if (!current) {
            if (insert_first(spi, name, next)) return {d.token, std::nullopt};
            continue;
        }
        switch (compare_and_set(read.ref(), name, next, /*wait=*/false)) {
            case SetResult::done:
                return {d.token, std::nullopt};
            case SetResult::locked:
                return {};  // that transaction's end wakes a waiter
            case SetResult::changed:
                break;
        }
    }
    throw_kept_changing(name);
}

Micros renew(Spi& spi, std::string_view name, Token token, Micros ttl) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        Micros expires_at = decide_renew(current, name, token, now, ttl);
        LeaseRecord next = *current;
        next.expires_at = expires_at;
        return LeaseChange<Micros>{expires_at, next};
    });
}

bool release(Spi& spi, std::string_view name, Token token) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        if (!decide_release(current, token, now)) return LeaseChange<bool>{false, std::nullopt};
        return LeaseChange<bool>{true, released(*current, name, now)};
    });
}

bool force_release(Spi& spi, std::string_view name) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        bool was_held = decide_force_release(current, now);
        // An expired holding is cleared too, so coord.leases stops listing it.
        if (!current || !current->owner) return LeaseChange<bool>{false, std::nullopt};
        return LeaseChange<bool>{was_held, released(*current, name, now)};
    });
}

void verify_fence(std::string_view name, Token token) {
    // The share lock can keep a waiter's try from taking an expired lease:
    // this transaction's end wakes it.
    note_lease_touched(name);
    for (int round = 0; round < kMaxCompareAndSetRounds; ++round) {
        LeaseRowRead read(name, LeaseAccess::lock);
        std::optional<LeaseRecord> current = record_from(read.ref().row);
        // Decided on the locked version: the one a takeover in progress left.
        if (!current || share_lock(read.ref(), name)) {
            check_fence(current, name, token, now_micros());
            return;
        }
    }
    throw_kept_changing(name);
}

}  // namespace coord::pg
