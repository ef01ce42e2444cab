// SQL entry points of the task queue (extension/sql/30_tasks.sql).
#include "core/queue/task.hpp"
#include "core/common/validate.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/queue/queue_store.hpp"
#include "pg/queue/task_store.hpp"

extern "C" {
#include "access/detoast.h"
#include "utils/tuplestore.h"
}

using namespace coord;
using namespace coord::pg;

namespace {

std::int64_t task_id_arg(const Args& args, int i) { return require_present(args.get_int64(i), "task_id"); }
std::int64_t token_arg(const Args& args, int i) { return require_present(args.get_int64(i), "token"); }

// A jsonb argument within the documented size (its uncompressed size).
std::optional<Datum> json_arg(const Args& args, int i, const char* param) {
    std::optional<Datum> value = args.get_datum(i);
    if (!value) return std::nullopt;
    Datum d = *value;
    std::size_t bytes = pg_call([&] { return toast_raw_datum_size(d); });
    check_json_size(bytes, param);
    return value;
}

}  // namespace

COORD_FUNCTION(coord_enqueue) {
    Args args(fcinfo);
    Micros now = now_micros();
    EnqueueRequest request;
    request.queue = require_queue_name(args.get_text(0));
    std::optional<Datum> payload = json_arg(args, 1, "payload");
    request.payload = require_present(payload, "payload");
    request.run_at = resolve_run_at(args.get_timestamptz(2), now);
    request.priority = require_priority(args.get_int32(3));
    request.max_attempts = require_max_attempts(args.get_int32(4));
    request.dedupe_key = check_dedupe_key(args.get_text(5));
    CallingRole caller;
    request.enqueued_by = caller.role();  // invoker rights: the caller's role
    Spi spi;
    require_queue_use(spi, request.queue, QueuePrivilege::produce, caller, "enqueue into");
    return int64_datum(enqueue_task(spi, request, now));
}

COORD_FUNCTION(coord_claim) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    auto worker = require_worker(args.get_text(1));
    auto lease = require_duration(args.get_interval(2), "ttl", kMaxClaimLease);
    auto batch = require_batch(args.get_int32(3));
    CallingRole caller;
    begin_result_set(fcinfo);
    std::vector<ClaimedTask> claimed;
    {
        Spi spi;
        QueueInfo info = require_queue_use(spi, queue, QueuePrivilege::consume, caller, "claim from");
        if (info.paused) return Datum(0);
        claimed = claim_tasks(spi, queue, worker, caller.role(), lease, batch, now_micros());
    }
    for (const ClaimedTask& t : claimed) {
        Datum values[5] = {Int64GetDatum(t.task_id), t.payload, Int32GetDatum(t.attempt),
                           Int64GetDatum(t.token), t.execution_id};
        bool nulls[5] = {false, false, false, false, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}

COORD_FUNCTION(coord_heartbeat) {
    Args args(fcinfo);
    auto task_id = task_id_arg(args, 0);
    auto token = token_arg(args, 1);
    auto extend = require_duration(args.get_interval(2), "ttl", kMaxClaimLease);
    CallingRole caller;
    Spi spi;
    return timestamptz_datum(heartbeat_task(spi, task_id, token, caller, extend, now_micros()));
}

COORD_FUNCTION(coord_complete) {
    Args args(fcinfo);
    auto task_id = task_id_arg(args, 0);
    auto token = token_arg(args, 1);
    auto result = json_arg(args, 2, "result");
    return BoolGetDatum(complete_task(task_id, token, CallingRole(), result, now_micros()));
}

COORD_FUNCTION(coord_fail) {
    Args args(fcinfo);
    auto task_id = task_id_arg(args, 0);
    auto token = token_arg(args, 1);
    std::string error = normalize_error_text(args.get_text(2));
    std::optional<Micros> retry_in;
    if (!args.is_null(3))
        retry_in = require_non_negative_duration(args.get_interval(3), "retry_in", kMaxRetryDelay);
    bool retry = require_present(args.get_boolean(4), "retry");
    CallingRole caller;
    Spi spi;
    TaskState state = fail_task(spi, task_id, token, caller, error, retry_in, retry, now_micros());
    return text_datum(to_string(state));
}

COORD_FUNCTION(coord_cancel) {
    Args args(fcinfo);
    auto task_id = task_id_arg(args, 0);
    CallingRole caller;
    Spi spi;
    return BoolGetDatum(cancel_task(spi, task_id, caller, now_micros()));
}

COORD_FUNCTION(coord_snooze) {
    Args args(fcinfo);
    auto task_id = task_id_arg(args, 0);
    auto token = token_arg(args, 1);
    auto run_in = require_run_in(args.get_interval(2));
    CallingRole caller;
    Spi spi;
    return timestamptz_datum(snooze_task(spi, task_id, token, caller, run_in, now_micros()));
}

COORD_FUNCTION(coord_retry_dead) {
    Args args(fcinfo);
    auto task_id = task_id_arg(args, 0);
    Spi spi;
    return BoolGetDatum(retry_dead_task(spi, task_id, now_micros()));
}

// coord.task(): the record is assembled in SQL (coord.task_record, run as
// the extension owner); who may read it is decided here, for the caller.
COORD_FUNCTION(coord_task) {
    constexpr int kColumns = 19;  // RETURNS TABLE of coord.task; then enqueued_by, claimed_by
    Args args(fcinfo);
    auto task_id = task_id_arg(args, 0);
    CallingRole caller;
    begin_result_set(fcinfo);
    static Statement record("SELECT * FROM coord.task_record($1)", {INT8OID});
    Datum values[kColumns];
    bool nulls[kColumns];
    {
        Spi spi;
        if (spi.run(record, {int64_param(task_id)}) == 0) return Datum(0);  // unknown or pruned
        Row row = *spi.first_row();
        Oid enqueued_by = row.get_oid(kColumns + 1).value_or(InvalidOid);
        std::optional<Oid> claimed_by = row.get_oid(kColumns + 2);
        bool observer = false;
        if (!(claimed_by && *claimed_by == caller.role()) && !may_read(caller, enqueued_by)) {
            // A role with observe on the task's queue reads it too.
            std::string queue = row.get_text(2).value_or("");
            std::optional<QueueInfo> info = load_queue(spi, queue, QueuePrivilege::observe, caller.role());
            observer = info && may_use_queue(caller, info->access);
            if (observer) {
                spi.run(record, {int64_param(task_id)});
                row = *spi.first_row();
            }
        }
        if (!observer) require_task_reader(caller, task_id, enqueued_by, claimed_by);
        for (int i = 0; i < kColumns; ++i) {
            std::optional<Datum> value = row.get_datum_copy(i + 1, spi.caller_context());
            values[i] = value.value_or(Datum(0));
            nulls[i] = !value;
        }
    }
    add_result_row(fcinfo, values, nulls);
    return Datum(0);
}

// coord.queue_task_list() (the view coord.queue_tasks): the tasks of the
// queues the caller may observe, read as the extension owner for the caller's
// role. A function, not a view over the tables, so that an administrator may
// still retype a column of the task tables (see README, "Changing the
// extension's tables"): payload is cast back to jsonb.
COORD_FUNCTION(coord_queue_task_list) {
    constexpr int kColumns = 14;
    CallingRole caller;
    begin_result_set(fcinfo);
    static Statement list(
        "WITH observable AS ("
        "  SELECT q.queue FROM coord.queue_state q "
        "  WHERE pg_catalog.pg_has_role($1::pg_catalog.oid, q.created_by::pg_catalog.oid, 'USAGE') "
        "     OR $2 "
        "     OR EXISTS (SELECT 1 FROM coord.queue_grants g "
        "                WHERE g.queue = q.queue AND g.privilege = 'observe' "
        "                  AND pg_catalog.pg_has_role($1::pg_catalog.oid, g.role::pg_catalog.oid, 'USAGE'))) "
        "SELECT t.id, t.queue, t.state, t.priority, t.run_at, t.attempts, t.max_attempts, t.worker, "
        "       t.claimed_at, t.lease_expires_at, t.last_error, t.created_at, t.finished_at, "
        "       t.payload::pg_catalog.jsonb "
        "FROM coord.tasks t WHERE t.queue IN (SELECT queue FROM observable) "
        "UNION ALL "
        "SELECT c.id, c.queue, 'complete', c.priority, NULL, c.attempts, c.max_attempts, c.worker, "
        "       c.started_at, NULL, NULL, c.created_at, c.completed_at, c.payload::pg_catalog.jsonb "
        "FROM coord.tasks_complete c WHERE c.queue IN (SELECT queue FROM observable)",
        {REGROLEOID, BOOLOID});
    Spi spi;
    std::uint64_t n = spi.run(list, {role_param(caller.role()), bool_param(caller.is_admin())});
    Datum values[kColumns];
    bool nulls[kColumns];
    for (std::uint64_t r = 0; r < n; ++r) {
        Row row = spi.row(r);
        for (int i = 0; i < kColumns; ++i) {
            std::optional<Datum> value = row.get_datum_copy(i + 1, spi.caller_context());
            values[i] = value.value_or(Datum(0));
            nulls[i] = !value;
        }
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}
