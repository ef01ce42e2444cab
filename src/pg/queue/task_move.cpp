#include "pg/queue/task_move.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/direct_write.hpp"
#include "pg/common/guard.hpp"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
}

#include <cstring>

namespace coord::pg {

namespace {

// Column numbers follow CREATE TABLE coord.tasks and coord.tasks_complete
// (extension/sql/30_tasks.sql). A table with another number of columns (an
// upgrade that changed them without updating this file) takes the SQL path.
namespace tasks_col {
constexpr int id = 1, queue = 2, state = 3, payload = 4, priority = 5, attempts = 7,
              max_attempts = 8, dedupe_key = 9, token = 10, worker = 11, execution_id = 12,
              claimed_at = 13, created_at = 15, enqueued_by = 18, claimed_by = 19, count = 19;
}
namespace complete_col {
constexpr int id = 1, queue = 2, payload = 3, priority = 4, attempts = 5, max_attempts = 6,
              dedupe_key = 7, token = 8, created_at = 9, completed_at = 10, execution_id = 11,
              worker = 12, started_at = 13, result = 14, enqueued_by = 15, claimed_by = 16,
              count = 16;
}

// Rounds of read, compare, delete when concurrent changes keep winning.
constexpr int kMaxCompareAndSetRounds = 100;

bool is_processing(Datum state) {
    constexpr char kProcessing[] = "processing";
    text* t = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(state)));
    return VARSIZE_ANY_EXHDR(t) == sizeof(kProcessing) - 1 &&
           memcmp(VARDATA_ANY(t), kProcessing, sizeof(kProcessing) - 1) == 0;
}

// The completed record of the deleted processing row `old` (in coord.tasks'
// column order; its claim columns are set while processing).
HeapTuple completed_record(Relation tasks, HeapTuple old, Relation complete,
                           std::optional<Datum> result, Micros now) {
    Datum in[tasks_col::count];
    bool in_null[tasks_col::count];
    heap_deform_tuple(old, RelationGetDescr(tasks), in, in_null);
    Datum out[complete_col::count];
    bool out_null[complete_col::count];
    auto take = [&](int to, int from) {
        out[to - 1] = in[from - 1];
        out_null[to - 1] = in_null[from - 1];
    };
    take(complete_col::id, tasks_col::id);
    take(complete_col::queue, tasks_col::queue);
    take(complete_col::payload, tasks_col::payload);
    take(complete_col::priority, tasks_col::priority);
    take(complete_col::attempts, tasks_col::attempts);
    take(complete_col::max_attempts, tasks_col::max_attempts);
    take(complete_col::dedupe_key, tasks_col::dedupe_key);
    take(complete_col::token, tasks_col::token);
    take(complete_col::created_at, tasks_col::created_at);
    take(complete_col::execution_id, tasks_col::execution_id);
    take(complete_col::worker, tasks_col::worker);
    take(complete_col::started_at, tasks_col::claimed_at);
    take(complete_col::enqueued_by, tasks_col::enqueued_by);
    take(complete_col::claimed_by, tasks_col::claimed_by);
    out[complete_col::completed_at - 1] = TimestampTzGetDatum(now);
    out_null[complete_col::completed_at - 1] = false;
    out[complete_col::result - 1] = result ? *result : Datum(0);
    out_null[complete_col::result - 1] = !result;
    // heap_insert checks no NOT NULL constraint: the claim columns of a
    // processing row are never NULL, but say so rather than store one.
    for (int col : {complete_col::execution_id, complete_col::worker, complete_col::started_at,
                    complete_col::enqueued_by, complete_col::claimed_by})
        if (out_null[col - 1])
            elog(ERROR, "pg_coord: processing task %lld without its claim columns",
                 static_cast<long long>(DatumGetInt64(in[tasks_col::id - 1])));
    return heap_form_tuple(RelationGetDescr(complete), out, out_null);
}

enum class Deleted { yes, not_current, changed };

// One round, after a CommandCounterIncrement (so that this transaction's own
// earlier changes, such as the claim in the same statement, are seen): reads
// the task's visible row version through the primary key
// (with a fresh statement snapshot under READ COMMITTED) and, when it is
// processing under `token` by `role`, deletes exactly that version and
// inserts its completed record. `changed`: a concurrent transaction changed the version
// first (read again).
Deleted delete_if_current(Relation tasks, Oid pkey, Relation complete, std::int64_t task_id,
                          std::int64_t token, Oid role, std::optional<Datum> result, Micros now) {
    ScanKeyData key;
    ScanKeyInit(&key, tasks_col::id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(task_id));
    Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
    SysScanDesc scan = systable_beginscan(tasks, pkey, true, snapshot, 1, &key);
    HeapTuple found = systable_getnext(scan);
    HeapTuple old = nullptr;
    if (HeapTupleIsValid(found)) {
        TupleDesc desc = RelationGetDescr(tasks);
        bool state_null = false, token_null = false, role_null = false;
        Datum state = heap_getattr(found, tasks_col::state, desc, &state_null);
        Datum current = heap_getattr(found, tasks_col::token, desc, &token_null);
        Datum claimed_by = heap_getattr(found, tasks_col::claimed_by, desc, &role_null);
        if (!state_null && !token_null && !role_null && is_processing(state) &&
            DatumGetInt64(current) == token && DatumGetObjectId(claimed_by) == role)
            old = heap_copytuple(found);
    }
    systable_endscan(scan);
    Deleted outcome = Deleted::not_current;
    if (old != nullptr) {
        // The executor's checks for a DELETE (ExecCheckXactReadOnly).
        PreventCommandIfReadOnly("DELETE");
        PreventCommandIfParallelMode("DELETE");
        TM_FailureData failure;
        TM_Result r = heap_delete(tasks, &old->t_self, GetCurrentCommandId(true), InvalidSnapshot,
                                  true, &failure, false);
        // A transaction snapshot would read the same old version again
        // (the messages are ExecDelete's).
        if ((r == TM_Updated || r == TM_Deleted) && IsolationUsesXactSnapshot())
            ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                            errmsg(r == TM_Updated
                                       ? "could not serialize access due to concurrent update"
                                       : "could not serialize access due to concurrent delete")));
        if (r == TM_Ok) {
            HeapTuple record = completed_record(tasks, old, complete, result, now);
            heap_insert(complete, record, GetCurrentCommandId(true), 0, nullptr);
            insert_index_entries(complete, record);
            outcome = Deleted::yes;
        } else if (r == TM_Updated || r == TM_Deleted) {
            outcome = Deleted::changed;
        } else {
            elog(ERROR, "pg_coord: unexpected result %d deleting task %lld", static_cast<int>(r),
                 static_cast<long long>(task_id));
        }
    }
    UnregisterSnapshot(snapshot);
    return outcome;
}

}  // namespace

TaskMove move_completed_task(std::int64_t task_id, std::int64_t token, Oid role,
                             std::optional<Datum> result, Micros now) {
    return pg_call([&] {
        Oid pkey = coord_relation_oid(CoordRelation::tasks_pkey);
        // The locks DELETE and INSERT take, kept until the transaction ends.
        Relation tasks = table_open(coord_relation_oid(CoordRelation::tasks), RowExclusiveLock);
        Relation complete =
            table_open(coord_relation_oid(CoordRelation::tasks_complete), RowExclusiveLock);
        TaskMove outcome = TaskMove::needs_sql;
        // For the delete from coord.tasks the same test holds: any trigger
        // (a foreign key referencing it included) needs the executor.
        if (!insert_needs_executor(tasks) && !insert_needs_executor(complete) &&
            RelationGetDescr(tasks)->natts == tasks_col::count &&
            RelationGetDescr(complete)->natts == complete_col::count) {
            Deleted d = Deleted::changed;
            for (int round = 0; round < kMaxCompareAndSetRounds && d == Deleted::changed; ++round) {
                CommandCounterIncrement();
                d = delete_if_current(tasks, pkey, complete, task_id, token, role, result, now);
            }
            if (d == Deleted::changed)
                ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                                errmsg("task %lld kept changing concurrently; retry",
                                       static_cast<long long>(task_id))));
            outcome = d == Deleted::yes ? TaskMove::moved : TaskMove::not_current;
        }
        table_close(complete, NoLock);
        table_close(tasks, NoLock);
        return outcome;
    });
}

}  // namespace coord::pg
