#include "pg/queue/task_move.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/direct_write.hpp"
#include "pg/common/guard.hpp"
#include "pg/common/relation_layout.hpp"
#include "pg/metrics/metrics.hpp"

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

// The columns the move reads from coord.tasks and writes into
// coord.tasks_complete (extension/sql/30_tasks.sql), found by name and type
// (relation_layout.hpp). A table that no longer has them takes the SQL path.
constexpr ColumnSpec kTaskColumns[] = {
    {"id", INT8OID},           {"queue", TEXTOID},       {"state", TEXTOID},
    {"payload", JSONBOID},     {"priority", INT4OID},    {"attempts", INT4OID},
    {"max_attempts", INT4OID}, {"dedupe_key", TEXTOID},  {"token", INT8OID},
    {"worker", TEXTOID},       {"execution_id", UUIDOID}, {"claimed_at", TIMESTAMPTZOID},
    {"created_at", TIMESTAMPTZOID}, {"enqueued_by", REGROLEOID}, {"claimed_by", REGROLEOID},
};
ColumnMap task_columns(kTaskColumns);
constexpr ColumnSpec kCompleteColumns[] = {
    {"id", INT8OID},           {"queue", TEXTOID},       {"payload", JSONBOID},
    {"priority", INT4OID},     {"attempts", INT4OID},    {"max_attempts", INT4OID},
    {"dedupe_key", TEXTOID},   {"token", INT8OID},       {"created_at", TIMESTAMPTZOID},
    {"completed_at", TIMESTAMPTZOID}, {"execution_id", UUIDOID}, {"worker", TEXTOID},
    {"started_at", TIMESTAMPTZOID},   {"result", JSONBOID},
    {"enqueued_by", REGROLEOID},      {"claimed_by", REGROLEOID},
};
ColumnMap complete_columns(kCompleteColumns);

constexpr int task_column(std::string_view name) { return column_index(kTaskColumns, name); }
constexpr int complete_column(std::string_view name) { return column_index(kCompleteColumns, name); }

namespace task_col {
constexpr int id = task_column("id"), state = task_column("state"), token = task_column("token"),
              claimed_by = task_column("claimed_by"), queue = task_column("queue");
}
namespace complete_col {
constexpr int completed_at = complete_column("completed_at"), result = complete_column("result"),
              execution_id = complete_column("execution_id"), worker = complete_column("worker"),
              started_at = complete_column("started_at"), enqueued_by = complete_column("enqueued_by"),
              claimed_by = complete_column("claimed_by");
}

// A completed record's column and the task column it is copied from.
struct CopiedColumn {
    int complete;
    int task;
};
constexpr CopiedColumn kCopied[] = {
    {complete_column("id"), task_column("id")},
    {complete_column("queue"), task_column("queue")},
    {complete_column("payload"), task_column("payload")},
    {complete_column("priority"), task_column("priority")},
    {complete_column("attempts"), task_column("attempts")},
    {complete_column("max_attempts"), task_column("max_attempts")},
    {complete_column("dedupe_key"), task_column("dedupe_key")},
    {complete_column("token"), task_column("token")},
    {complete_column("created_at"), task_column("created_at")},
    {complete_column("execution_id"), task_column("execution_id")},
    {complete_column("worker"), task_column("worker")},
    {complete_column("started_at"), task_column("claimed_at")},
    {complete_column("enqueued_by"), task_column("enqueued_by")},
    {complete_column("claimed_by"), task_column("claimed_by")},
};

// Rounds of read, compare, delete when concurrent changes keep winning.
constexpr int kMaxCompareAndSetRounds = 100;

bool is_processing(Datum state) {
    constexpr char kProcessing[] = "processing";
    text* t = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(state)));
    return VARSIZE_ANY_EXHDR(t) == sizeof(kProcessing) - 1 &&
           memcmp(VARDATA_ANY(t), kProcessing, sizeof(kProcessing) - 1) == 0;
}

// The completed record of the deleted processing row `old`; its claim
// columns are set while processing.
HeapTuple completed_record(Relation tasks, HeapTuple old, Relation complete,
                           std::optional<Datum> result, Micros now) {
    const AttrNumber* from = task_columns.layout(tasks).attnum;
    const AttrNumber* to = complete_columns.layout(complete).attnum;
    TupleDesc desc = RelationGetDescr(tasks);
    // One pass over the old row (heap_getattr per column would walk it again
    // for every column after a variable-length one).
    Datum* in = static_cast<Datum*>(palloc(sizeof(Datum) * desc->natts));
    bool* in_null = static_cast<bool*>(palloc(sizeof(bool) * desc->natts));
    heap_deform_tuple(old, desc, in, in_null);
    RowValues row = new_row_values(complete);
    for (const CopiedColumn& c : kCopied) {
        int i = from[c.task] - 1;
        if (in_null[i]) {
            set_column_null(row, to[c.complete]);
        } else {
            set_column(row, to[c.complete], in[i]);
        }
    }
    set_column(row, to[complete_col::completed_at], TimestampTzGetDatum(now));
    if (result) {
        set_column(row, to[complete_col::result], *result);
    } else {
        set_column_null(row, to[complete_col::result]);
    }
    // The claim columns of a processing row are never NULL; say so rather
    // than report a NOT NULL violation of coord.tasks_complete.
    for (int col : {complete_col::execution_id, complete_col::worker, complete_col::started_at,
                    complete_col::enqueued_by, complete_col::claimed_by})
        if (row.nulls[to[col] - 1])
            elog(ERROR, "pg_coord: processing task %lld without its claim columns",
                 static_cast<long long>(DatumGetInt64(in[from[task_col::id] - 1])));
    // heap_insert checks no NOT NULL constraint.
    require_not_null(complete, row.nulls);
    return heap_form_tuple(RelationGetDescr(complete), row.values, row.nulls);
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
    const AttrNumber* attnum = task_columns.layout(tasks).attnum;
    ScanKeyData key;
    ScanKeyInit(&key, attnum[task_col::id], BTEqualStrategyNumber, F_INT8EQ,
                Int64GetDatum(task_id));
    Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
    SysScanDesc scan = systable_beginscan(tasks, pkey, true, snapshot, 1, &key);
    HeapTuple found = systable_getnext(scan);
    HeapTuple old = nullptr;
    if (HeapTupleIsValid(found)) {
        TupleDesc desc = RelationGetDescr(tasks);
        bool state_null = false, token_null = false, role_null = false;
        Datum state = heap_getattr(found, attnum[task_col::state], desc, &state_null);
        Datum current = heap_getattr(found, attnum[task_col::token], desc, &token_null);
        Datum claimed_by = heap_getattr(found, attnum[task_col::claimed_by], desc, &role_null);
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
            bool queue_null = false;
            Datum queue = heap_getattr(old, attnum[task_col::queue], RelationGetDescr(tasks), &queue_null);
            if (!queue_null) {
                text* q = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(queue)));
                metrics::note_tasks(std::string_view(VARDATA_ANY(q), VARSIZE_ANY_EXHDR(q)),
                                    metrics::TaskEvent::completed);
            }
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
        if (may_write_directly(tasks, task_columns, WriteCommand::delete_) &&
            may_write_directly(complete, complete_columns, WriteCommand::insert)) {
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
