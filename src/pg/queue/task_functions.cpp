// SQL entry points of the task queue (extension/sql/30_tasks.sql).
#include "core/queue/task.hpp"
#include "core/common/validate.hpp"
#include "core/common/error.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/queue/queue_store.hpp"
#include "pg/queue/task_store.hpp"
#include "pg/waiting/claim_waiting.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/xact.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

#include <string>
#include <vector>

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

// The elements of an array argument (none when NULL), checked by the core.
struct ArrayArg {
    bool present = false;
    std::vector<Datum> values;
    std::optional<std::size_t> first_null;  // 1-based
};
ArrayArg array_arg(const Args& args, int i, Oid element_type, const char* param, bool required) {
    ArrayArg out;
    std::optional<Datum> array = args.get_datum(i);
    if (!array) {
        if (required) require_batch_array(param, false, 0, std::nullopt);
        return out;
    }
    out.present = true;
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_call([&] {
        ArrayType* a = DatumGetArrayTypeP(*array);
        if (ARR_NDIM(a) > 1)
            ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("%s must be a one-dimensional array", param)));
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
        deconstruct_array(a, element_type, typlen, typbyval, typalign, &elems, &nulls, &count);
    });
    out.values.reserve(static_cast<std::size_t>(count));
    for (int k = 0; k < count; ++k) {
        if (nulls[k] && !out.first_null) out.first_null = static_cast<std::size_t>(k) + 1;
        out.values.push_back(elems[k]);
    }
    require_batch_array(param, true, out.values.size(), out.first_null);
    return out;
}

// A text element of an array_arg (never NULL there), valid while the call runs.
std::string_view text_element(Datum element) {
    ::text* t = reinterpret_cast<::text*>(pg_call([&] { return PG_DETOAST_DATUM_PACKED(element); }));
    return {VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)};
}

// A scalar set (RETURNS SETOF bigint) in materialize mode.
void begin_scalar_set(FunctionCallInfo fcinfo, Oid type) {
    pg_call([&] {
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        if (rsinfo == nullptr || !IsA(rsinfo, ReturnSetInfo) ||
            !(rsinfo->allowedModes & SFRM_Materialize))
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("set-valued function called in context that cannot accept a set")));
        MemoryContext old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
        TupleDesc desc = CreateTemplateTupleDesc(1);
        TupleDescInitEntry(desc, 1, "value", type, -1, 0);
        rsinfo->returnMode = SFRM_Materialize;
        rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
        rsinfo->setDesc = desc;
        MemoryContextSwitchTo(old);
    });
}

}  // namespace

COORD_FUNCTION(coord_enqueue) {
    Args args(fcinfo);
    Micros now = now_micros();
    EnqueueRequest request;
    request.queue = require_queue_name(args.get_text(0));
    std::optional<Datum> payload = json_arg(args, 1, "payload");
    request.payload = require_present(payload, "payload");
    std::optional<IntervalParts> run_in;
    if (!args.is_null(6)) run_in = args.get_interval(6);
    request.run_at = resolve_run_at_or_in(args.get_timestamptz(2), run_in, now);
    request.priority = require_priority(args.get_int32(3));
    std::optional<std::int32_t> max_attempts;  // NULL: the queue's
    if (!args.is_null(4)) max_attempts = require_max_attempts(args.get_int32(4));
    request.dedupe_key = check_dedupe_key(args.get_text(5));
    std::optional<IntervalParts> dedupe_for;
    if (!args.is_null(7)) dedupe_for = args.get_interval(7);
    request.dedupe_for = check_dedupe_for(dedupe_for, request.dedupe_key.has_value());
    CallingRole caller;
    request.enqueued_by = caller.role();  // invoker rights: the caller's role
    Spi spi;
    QueueInfo info = require_queue_use(spi, request.queue, QueuePrivilege::produce, caller, "enqueue into");
    request.max_attempts = max_attempts.value_or(info.max_attempts);
    std::int64_t id = enqueue_task(spi, request, now);
    announce_enqueued(request.queue, info.notify, request.run_at, now);
    return int64_datum(id);
}

COORD_FUNCTION(coord_enqueue_many) {
    Args args(fcinfo);
    Micros now = now_micros();
    auto queue = require_queue_name(args.get_text(0));
    ArrayArg payloads = array_arg(args, 1, JSONBOID, "payloads", true);
    Micros run_at = resolve_run_at(args.get_timestamptz(2), now);
    auto priority = require_priority(args.get_int32(3));
    ArrayArg keys = array_arg(args, 4, TEXTOID, "dedupe_keys", false);
    if (keys.present) require_same_length("dedupe_keys", keys.values.size(), "payloads", payloads.values.size());
    std::vector<std::string> key_texts;
    for (Datum k : keys.values) {
        key_texts.emplace_back(text_element(k));
        check_dedupe_key(std::string_view(key_texts.back()));
    }
    for (Datum p : payloads.values) {
        std::size_t bytes = pg_call([&] { return toast_raw_datum_size(p); });
        check_json_size(bytes, "payloads");
    }
    CallingRole caller;
    begin_scalar_set(fcinfo, INT8OID);
    std::vector<std::int64_t> ids;
    ids.reserve(payloads.values.size());
    bool notify = false;
    {
        Spi spi;
        QueueInfo info = require_queue_use(spi, queue, QueuePrivilege::produce, caller, "enqueue into");
        EnqueueRequest request;
        request.queue = queue;
        request.run_at = run_at;
        request.priority = priority;
        request.max_attempts = info.max_attempts;
        request.enqueued_by = caller.role();
        if (!keys.present) {
            ids = enqueue_tasks(spi, request, *args.get_datum(1), now);
        } else {
            for (std::size_t k = 0; k < payloads.values.size(); ++k) {
                request.payload = payloads.values[k];
                request.dedupe_key = std::optional<std::string_view>(key_texts[k]);
                ids.push_back(enqueue_task(spi, request, now));
            }
        }
        notify = info.notify;
    }
    announce_enqueued(queue, notify, run_at, now);
    for (std::int64_t id : ids) {
        Datum value = Int64GetDatum(id);
        bool null = false;
        add_result_row(fcinfo, &value, &null);
    }
    return Datum(0);
}

COORD_FUNCTION(coord_complete_many) {
    Args args(fcinfo);
    ArrayArg ids = array_arg(args, 0, INT8OID, "task_ids", true);
    ArrayArg tokens = array_arg(args, 1, INT8OID, "tokens", true);
    require_same_length("tokens", tokens.values.size(), "task_ids", ids.values.size());
    ArrayArg results = array_arg(args, 2, JSONBOID, "results", false);
    if (results.present) require_same_length("results", results.values.size(), "task_ids", ids.values.size());
    for (Datum r : results.values) {
        std::size_t bytes = pg_call([&] { return toast_raw_datum_size(r); });
        check_json_size(bytes, "results");
    }
    CallingRole caller;
    Micros now = now_micros();
    begin_result_set(fcinfo);
    // One call, one transaction: a stale token (PC001, naming the task)
    // aborts it, and nothing of the batch is written.
    for (std::size_t k = 0; k < ids.values.size(); ++k) {
        std::int64_t task_id = DatumGetInt64(ids.values[k]);
        std::int64_t token = DatumGetInt64(tokens.values[k]);
        std::optional<Datum> result;
        if (results.present) result = results.values[k];
        bool completed = complete_task(task_id, token, caller, result, now);
        Datum values[2] = {Int64GetDatum(task_id), BoolGetDatum(completed)};
        bool nulls[2] = {false, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}

namespace {

// The queues argument of the multi-queue claim, checked by the core.
std::vector<std::string> queues_arg(const Args& args, int i) {
    ArrayArg array = array_arg(args, i, TEXTOID, "queues", false);
    std::vector<std::optional<std::string_view>> names;
    names.reserve(array.values.size());
    for (Datum name : array.values) names.emplace_back(text_element(name));
    return require_claim_queues(array.present, names);
}

// Waiting re-reads the queues in a fresh snapshot after every wake-up (as
// waiting for a lease, lease_functions.cpp): shared memory and READ COMMITTED.
void require_claim_wait_possible() {
    if (!waiting_available())
        throw Error(sqlstate::object_not_in_prerequisite_state,
                    "claim with wait_for > 0 needs pg_coord in shared_preload_libraries",
                    "A waiting claim sleeps until woken through shared memory, which pg_coord can "
                    "only reserve when the server loads it at start.",
                    "Add pg_coord to shared_preload_libraries and restart the server, or call with "
                    "wait_for => '0'.");
    if (IsolationUsesXactSnapshot())
        throw Error(sqlstate::object_not_in_prerequisite_state,
                    "claim with wait_for > 0 needs a READ COMMITTED transaction",
                    "A waiting claim looks for due tasks again after every wake-up; a REPEATABLE READ "
                    "or SERIALIZABLE snapshot would never see the new ones.",
                    "Call it in its own READ COMMITTED transaction, or with wait_for => '0'.");
}

// Both forms of coord.claim: (queue or queues, worker, ttl, batch, wait_for).
// With wait_for > 0 and nothing due, the call registers as a waiter of its
// queues and sleeps on its latch until a transaction that made tasks of
// them due commits (claim_waiting.hpp), then tries again; paused queues
// are skipped (a resume wakes the waiter). Every try re-reads the queues
// (paused, privileges) in a fresh snapshot.
Datum claim_from(FunctionCallInfo fcinfo, const std::vector<std::string>& queues) {
    Args args(fcinfo);
    auto worker = require_worker(args.get_text(1));
    auto lease = require_duration(args.get_interval(2), "ttl", kMaxClaimLease);
    auto batch = require_batch(args.get_int32(3));
    Micros wait_for = require_claim_wait(args.get_interval(4));
    if (wait_for > 0) require_claim_wait_possible();
    CallingRole caller;
    begin_result_set(fcinfo);
    const Micros deadline = now_micros() + wait_for;
    std::optional<ClaimWaitRegistration> registration;
    if (wait_for > 0) registration.emplace(queues);
    std::vector<ClaimedTask> claimed;
    std::vector<std::string> open;
    Micros claimed_at = 0;
    for (;;) {
        {
            Spi spi;
            open.clear();
            for (const std::string& q : queues) {
                QueueInfo info = require_queue_use(spi, q, QueuePrivilege::consume, caller, "claim from");
                if (!info.paused) open.push_back(q);
            }
            claimed_at = now_micros();
            if (!open.empty())
                claimed = claim_tasks_of(spi, open, worker, caller.role(), lease, batch, claimed_at);
        }
        if (!claimed.empty() || !registration || now_micros() >= deadline) break;
        registration->sleep_until(deadline);
    }
    registration.reset();
    for (const ClaimedTask& t : claimed) {
        Datum queue = text_datum(t.queue);
        Datum values[8] = {Int64GetDatum(t.task_id), queue, t.payload, Int32GetDatum(t.attempt),
                           Int32GetDatum(t.max_attempts), Int64GetDatum(t.token), t.execution_id,
                           timestamptz_datum(claimed_at + lease)};
        bool nulls[8] = {false, false, false, false, false, false, false, false};
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}

}  // namespace

COORD_FUNCTION(coord_claim) {
    Args args(fcinfo);
    std::vector<std::string> queues{std::string(require_queue_name(args.get_text(0)))};
    return claim_from(fcinfo, queues);
}

COORD_FUNCTION(coord_claim_queues) {
    Args args(fcinfo);
    return claim_from(fcinfo, queues_arg(args, 0));
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
