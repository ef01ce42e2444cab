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
    CallingRole caller;
    Spi spi;
    TaskState state = fail_task(spi, task_id, token, caller, error, retry_in, now_micros());
    return text_datum(to_string(state));
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
