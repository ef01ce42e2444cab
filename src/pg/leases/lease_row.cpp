#include "core/common/error.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/direct_write.hpp"
#include "pg/common/index_lookup.hpp"
#include "pg/common/lock_wait.hpp"
#include "pg/common/relation_layout.hpp"
#include "pg/common/subtransaction.hpp"
#include "pg/leases/lease_row.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_am_d.h"
#include "storage/bufmgr.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
}

namespace coord::pg {

namespace {

// The columns of coord.lease_state read and written here (10_leases.sql).
constexpr ColumnSpec kLeaseColumns[] = {
    {"name", TEXTOID},
    {"owner", TEXTOID},                 // NULL while free
    {"token", INT8OID},
    {"acquired_at", TIMESTAMPTZOID},    // NULL while free
    {"expires_at", TIMESTAMPTZOID},     // NULL while free
    {"holder_role", REGROLEOID},        // NULL while free
};
ColumnMap lease_columns(kLeaseColumns);
namespace column {
constexpr int name = column_index(kLeaseColumns, "name");
constexpr int owner = column_index(kLeaseColumns, "owner");
constexpr int token = column_index(kLeaseColumns, "token");
constexpr int acquired_at = column_index(kLeaseColumns, "acquired_at");
constexpr int expires_at = column_index(kLeaseColumns, "expires_at");
constexpr int holder_role = column_index(kLeaseColumns, "holder_role");
}  // namespace column

// The lease row as plain data, so that it can leave pg_call (see guard.hpp);
// the owner is palloc'd in the caller's memory context.
struct RawLeaseRow {
    bool found;
    TextBytes owner;  // data == nullptr: NULL
    Token token;
    bool acquired_at_null, expires_at_null;
    Micros acquired_at, expires_at;
    Oid holder_role;
};

struct LeaseRelations {
    Oid table;
    Oid index;
};

LeaseRelations lease_relations() {
    return {coord_relation_oid(CoordRelation::lease_state),
            coord_relation_oid(CoordRelation::lease_state_pkey)};
}

text* text_of(std::string_view value) {
    return cstring_to_text_with_len(value.data(), static_cast<int>(value.size()));
}

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

std::optional<LeaseRecord> record_from(const RawLeaseRow& row) {
    if (!row.found) return std::nullopt;
    LeaseRecord record;
    if (row.owner.data != nullptr) record.owner = std::string(row.owner.data, row.owner.length);
    record.token = row.token;
    record.acquired_at = row.acquired_at;
    record.expires_at = row.expires_at;
    record.holder_role = row.holder_role;
    return record;
}

std::optional<LeaseRecord> lease_from_sql_row(const std::optional<Row>& row) {
    if (!row) return std::nullopt;
    LeaseRecord record;
    record.owner = row->get_text(1);
    record.token = row->get_int64(2).value_or(0);
    record.acquired_at = row->get_timestamptz(3).value_or(0);
    record.expires_at = row->get_timestamptz(4).value_or(0);
    record.holder_role = row->get_oid(5).value_or(InvalidOid);
    return record;
}

std::optional<Micros> held_time(const LeaseRecord& r, Micros t) {
    return r.owner ? std::optional<Micros>(t) : std::nullopt;
}

// The holding's role, NULL while free (as the direct write stores it).
Param held_role_param(const LeaseRecord& r) {
    return r.owner ? role_param(r.holder_role) : datum_param(REGROLEOID, std::nullopt);
}

}  // namespace

LeaseRowRead::LeaseRowRead(std::string_view name, LeaseAccess access) : name_(name) {
    RawLeaseRow row{};
    RawLeaseRow* out = &row;
    LeaseRowRead* self = this;  // its version fields are plain data
    pg_call([&] {
        if (access == LeaseAccess::lock) {
            // The executor's checks for SELECT ... FOR SHARE (ExecCheckXactReadOnly).
            PreventCommandIfReadOnly("SELECT FOR SHARE");
            PreventCommandIfParallelMode("SELECT FOR SHARE");
        }
        CommandCounterIncrement();
        LeaseRelations rel = lease_relations();
        bool looking = access == LeaseAccess::look || access == LeaseAccess::look_latest;
        LOCKMODE table_lock = looking                       ? AccessShareLock
                              : access == LeaseAccess::lock ? RowShareLock
                                                            : RowExclusiveLock;
        Relation table = table_open(rel.table, table_lock);
        const RelationLayout& layout = lease_columns.require_layout(table);
        ScanKeyData key;
        ScanKeyInit(&key, layout.attnum[column::name], BTEqualStrategyNumber, F_TEXTEQ,
                    PointerGetDatum(text_of(name)));
        use_index_collations(&key, 1, rel.index);
        Snapshot snapshot = RegisterSnapshot(access == LeaseAccess::look_latest
                                                 ? GetLatestSnapshot()
                                                 : GetTransactionSnapshot());
        SysScanDesc scan = systable_beginscan(table, rel.index, true, snapshot, 1, &key);
        HeapTuple tuple = systable_getnext(scan);
        if (HeapTupleIsValid(tuple)) {
            TupleDesc desc = RelationGetDescr(table);
            bool isnull = false;
            out->found = true;
            Datum owner = heap_getattr(tuple, layout.attnum[column::owner], desc, &isnull);
            if (!isnull) out->owner = copy_text_bytes(owner);
            out->token = DatumGetInt64(heap_getattr(tuple, layout.attnum[column::token], desc, &isnull));
            Datum acquired_at = heap_getattr(tuple, layout.attnum[column::acquired_at], desc,
                                             &out->acquired_at_null);
            out->acquired_at = out->acquired_at_null ? 0 : DatumGetTimestampTz(acquired_at);
            Datum expires_at = heap_getattr(tuple, layout.attnum[column::expires_at], desc,
                                            &out->expires_at_null);
            out->expires_at = out->expires_at_null ? 0 : DatumGetTimestampTz(expires_at);
            Datum holder_role = heap_getattr(tuple, layout.attnum[column::holder_role], desc, &isnull);
            out->holder_role = isnull ? InvalidOid : DatumGetObjectId(holder_role);
            if (!looking) {
                self->tid_ = tuple->t_self;
                self->snapshot_ = snapshot;
                if (access == LeaseAccess::change) self->old_ = heap_copytuple(tuple);
            }
        }
        systable_endscan(scan);
        if (self->snapshot_ == nullptr) UnregisterSnapshot(snapshot);
        // A locker or writer keeps its table lock until the transaction ends.
        table_close(table, looking ? AccessShareLock : NoLock);
    });
    current_ = record_from(row);
    if (row.found) {
        if (!row.acquired_at_null) seen_acquired_at_ = row.acquired_at;
        if (!row.expires_at_null) seen_expires_at_ = row.expires_at;
    }
}

LeaseRowRead::~LeaseRowRead() {
    if (snapshot_ != nullptr) UnregisterSnapshot(snapshot_);
}

SetResult LeaseRowRead::compare_and_set(Spi& spi, const LeaseRecord& next, bool wait) {
    constexpr int kNeedsSql = -1;
    const LeaseRowRead* read = this;
    std::string_view name = name_;
    int direct = pg_call([&]() -> int {
        // The executor's checks for an UPDATE (ExecCheckXactReadOnly).
        PreventCommandIfReadOnly("UPDATE");
        PreventCommandIfParallelMode("UPDATE");
        Relation table = table_open(lease_relations().table, NoLock);  // locked by the read
        if (!may_write_directly(table, lease_columns, WriteCommand::update)) {
            table_close(table, NoLock);
            return kNeedsSql;
        }
        const RelationLayout& layout = lease_columns.layout(table);
        RowValues row = new_row_values(table);
        if (next.owner) {
            set_column(row, layout.attnum[column::owner], PointerGetDatum(text_of(*next.owner)));
            set_column(row, layout.attnum[column::acquired_at], TimestampTzGetDatum(next.acquired_at));
            set_column(row, layout.attnum[column::expires_at], TimestampTzGetDatum(next.expires_at));
            set_column(row, layout.attnum[column::holder_role], ObjectIdGetDatum(next.holder_role));
        } else {
            set_column_null(row, layout.attnum[column::owner]);
            set_column_null(row, layout.attnum[column::holder_role]);
            set_column_null(row, layout.attnum[column::acquired_at]);
            set_column_null(row, layout.attnum[column::expires_at]);
        }
        set_column(row, layout.attnum[column::token], Int64GetDatum(next.token));
        HeapTuple new_version = modified_row(table, read->old_, row);
        ItemPointerData old_version = read->tid_;
        TM_FailureData failure;
        LockTupleMode lock_mode;
        TM_Result result = heap_update(table, &old_version, new_version, GetCurrentCommandId(true),
                                       InvalidSnapshot, wait, &failure, &lock_mode);
        if (result == TM_Ok && !HeapTupleIsHeapOnly(new_version))
            insert_index_entries(table, new_version);
        table_close(table, NoLock);
        return static_cast<int>(outcome_on_version_read(result, wait, name, "updating"));
    });
    if (direct != kNeedsSql) return static_cast<SetResult>(direct);

    // The same compare-and-set through the executor: the row is replaced
    // only if it still holds the values read.
    static Statement update(
        "UPDATE coord.lease_state SET owner = $2, token = $3, acquired_at = $4, expires_at = $5, "
        "holder_role = $10 "
        "WHERE name = $1 AND owner IS NOT DISTINCT FROM $6 AND token = $7 "
        "AND acquired_at IS NOT DISTINCT FROM $8 AND expires_at IS NOT DISTINCT FROM $9",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID,
         TIMESTAMPTZOID, TIMESTAMPTZOID, REGROLEOID});
    static Statement lock(
        "SELECT FROM coord.lease_state "
        "WHERE name = $1 AND owner IS NOT DISTINCT FROM $6 AND token = $7 "
        "AND acquired_at IS NOT DISTINCT FROM $8 AND expires_at IS NOT DISTINCT FROM $9 "
        "FOR NO KEY UPDATE SKIP LOCKED",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, INT8OID,
         TIMESTAMPTZOID, TIMESTAMPTZOID, REGROLEOID});
    const LeaseRecord& seen = *current_;
    std::initializer_list<Param> params = {
        text_param(name_), text_param(next.owner), int64_param(next.token),
        timestamptz_param(held_time(next, next.acquired_at)),
        timestamptz_param(held_time(next, next.expires_at)), text_param(seen.owner),
        int64_param(seen.token), timestamptz_param(seen_acquired_at_),
        timestamptz_param(seen_expires_at_), held_role_param(next)};
    // In READ COMMITTED both statements lock the newest row version before
    // they recheck their WHERE clause on it, and keep that lock when the
    // recheck fails: a caller that then waits (or a busy try that returns)
    // would hold a row lock on a lease it did not change, which blocks
    // its holder's release. The subtransaction gives that lock back.
    SubTransaction sub;
    // Without waiting: lock the row first, skipping it if another
    // transaction has it; then tell "locked" from "changed" by a look.
    if (!wait && spi.run(lock, params) == 0) {
        LeaseRowRead again(name_, LeaseAccess::look);
        bool same = again.current_ && again.current_->owner == seen.owner &&
                    again.current_->token == seen.token &&
                    again.seen_acquired_at_ == seen_acquired_at_ &&
                    again.seen_expires_at_ == seen_expires_at_;
        sub.rollback();
        return same ? SetResult::locked : SetResult::changed;
    }
    if (spi.run(update, params) != 1) {
        sub.rollback();
        return SetResult::changed;
    }
    sub.commit();
    return SetResult::done;
}

bool LeaseRowRead::share_lock() {
    const LeaseRowRead* read = this;
    std::string_view name = name_;
    return pg_call([&] {
        // A row lock fires no trigger, checks no constraint and is not
        // replicated: it needs no executor, only a heap table.
        Relation table = table_open(lease_relations().table, NoLock);  // locked by the read
        if (table->rd_rel->relam != HEAP_TABLE_AM_OID)
            ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                            errmsg("relation coord.lease_state is not a heap table")));
        HeapTupleData version;
        version.t_self = read->tid_;
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

std::optional<LeaseRecord> read_lease_row(std::string_view name) {
    return LeaseRowRead(name, LeaseAccess::look).current();
}

namespace {

// Calls probe(table, index, key) with the lease table open and the scan key
// of `name` (a look at who writes or inserts its row; no row lock taken).
template <typename Probe>
auto probe_name_key(std::string_view name, Probe&& probe) {
    return pg_call([&] {
        LeaseRelations rel = lease_relations();
        Relation table = table_open(rel.table, AccessShareLock);
        const RelationLayout& layout = lease_columns.require_layout(table);
        ScanKeyData key;
        ScanKeyInit(&key, layout.attnum[column::name], BTEqualStrategyNumber, F_TEXTEQ,
                    PointerGetDatum(text_of(name)));
        auto result = probe(table, rel.index, &key);
        table_close(table, AccessShareLock);
        return result;
    });
}

}  // namespace

LeaseRowWriter lease_row_writer(std::string_view name) {
    return probe_name_key(name, [](Relation table, Oid index, ScanKey key) {
        KeyRowWriter w = key_row_writer(table, index, key, 1);
        return LeaseRowWriter{w.other, w.mine};
    });
}

std::optional<LeaseRecord> read_latest_lease_row(std::string_view name) {
    return LeaseRowRead(name, LeaseAccess::look_latest).current();
}

bool insert_first_lease_row(Spi& spi, std::string_view name, const LeaseRecord& first) {
    static Statement insert(
        "INSERT INTO coord.lease_state (name, owner, token, acquired_at, expires_at, holder_role) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, REGROLEOID},
        /*generic_plan=*/true);
    return spi.run(insert, {text_param(name), text_param(first.owner), int64_param(first.token),
                            timestamptz_param(first.acquired_at),
                            timestamptz_param(first.expires_at), held_role_param(first)}) == 1;
}

FirstInsert insert_first_lease_row_without_waiting(Spi& spi, std::string_view name,
                                                   const LeaseRecord& first) {
    bool in_progress = probe_name_key(name, [](Relation table, Oid index, ScanKey key) {
        return key_insert_in_progress(table, index, key, 1);
    });
    if (in_progress) return FirstInsert::busy;
    bool inserted = false;
    if (!with_lock_wait_limit(kShortestLockWait,
                              [&] { inserted = insert_first_lease_row(spi, name, first); }))
        return FirstInsert::busy;
    return inserted ? FirstInsert::inserted : FirstInsert::exists;
}

std::optional<LeaseRecord> lock_lease_row_skip_locked(Spi& spi, std::string_view name) {
    static Statement lock_skip(
        "SELECT owner, token, acquired_at, expires_at, holder_role FROM coord.lease_state "
        "WHERE name = $1 FOR NO KEY UPDATE SKIP LOCKED",
        {TEXTOID});
    spi.run(lock_skip, {text_param(name)});
    return lease_from_sql_row(spi.first_row());
}

std::optional<LeaseRecord> peek_lease_row(Spi& spi, std::string_view name) {
    static Statement peek(
        "SELECT owner, token, acquired_at, expires_at, holder_role FROM coord.lease_state "
        "WHERE name = $1",
        {TEXTOID});
    spi.run(peek, {text_param(name)});
    return lease_from_sql_row(spi.first_row());
}

void write_locked_lease_row(Spi& spi, std::string_view name, const LeaseRecord& holding) {
    static Statement update(
        "UPDATE coord.lease_state SET owner = $2, token = $3, acquired_at = $4, expires_at = $5, "
        "holder_role = $6 WHERE name = $1",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, REGROLEOID});
    spi.run(update, {text_param(name), text_param(holding.owner), int64_param(holding.token),
                     timestamptz_param(holding.acquired_at),
                     timestamptz_param(holding.expires_at), held_role_param(holding)});
}

}  // namespace coord::pg
