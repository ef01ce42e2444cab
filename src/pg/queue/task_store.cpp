#include "core/common/error.hpp"
#include "pg/common/datum.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/queue/queue_store.hpp"
#include "pg/queue/task_move.hpp"
#include "pg/queue/task_store.hpp"
#include "pg/waiting/claim_waiting.hpp"

extern "C" {
#include "common/pg_prng.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/uuid.h"
}

#include <algorithm>
#include <limits>

namespace coord::pg {

namespace {

constexpr Oid kJsonb = JSONBOID;

// The claim state of a task: from coord.tasks (row-locked), else from
// coord.tasks_complete, else nothing.
std::optional<TaskClaimState> load_claim_state(Spi& spi, std::int64_t task_id) {
    static Statement active(
        "SELECT state, token, attempts, max_attempts, claimed_by FROM coord.tasks "
        "WHERE id = $1 FOR UPDATE",
        {INT8OID});
    static Statement complete(
        "SELECT token, attempts, max_attempts, claimed_by FROM coord.tasks_complete WHERE id = $1",
        {INT8OID});
    if (spi.run(active, {int64_param(task_id)}) == 1) {
        Row row = *spi.first_row();
        std::optional<TaskState> state = parse_task_state(row.get_text(1).value_or(""));
        if (!state) throw Error(sqlstate::internal_error, "task row with an unknown state");
        return TaskClaimState{*state, row.get_int64(2).value_or(0), row.get_int32(3).value_or(0),
                              row.get_int32(4).value_or(1), row.get_oid(5).value_or(InvalidOid)};
    }
    if (spi.run(complete, {int64_param(task_id)}) == 1) {
        Row row = *spi.first_row();
        return TaskClaimState{TaskState::complete, row.get_int64(1).value_or(0),
                              row.get_int32(2).value_or(0), row.get_int32(3).value_or(1),
                              row.get_oid(4).value_or(InvalidOid)};
    }
    return std::nullopt;
}

// Ends the current attempt of a processing task under `token` (compare-and-
// set), records it in the history and moves the task to pending or dead.
// With only_if_expired, also requires the claim to have expired by the
// server clock (the sweep's requeue). Returns whether the row changed.
bool end_attempt(Spi& spi, std::int64_t task_id, std::int64_t token, const RetryDecision& next,
                 const char* outcome, std::optional<std::string_view> error, Micros now,
                 bool only_if_expired) {
    static Statement end(
        "WITH old AS ("
        "  SELECT id, queue, attempts, token, execution_id, worker, claimed_at, lease_expires_at "
        "  FROM coord.tasks "
        "  WHERE id = $1 AND state = 'processing' AND token = $2 "
        "    AND (NOT $8 OR lease_expires_at < pg_catalog.clock_timestamp())), "
        "upd AS ("
        "  UPDATE coord.tasks t SET state = $3, run_at = $4, worker = NULL, execution_id = NULL, "
        "         claimed_at = NULL, lease_expires_at = NULL, claimed_by = NULL, "
        "         last_error = COALESCE($5, pg_catalog.format('claim expired at %s (worker %s)', "
        "                                                     old.lease_expires_at, old.worker)), "
        "         finished_at = CASE WHEN $3 IN ('dead', 'cancelled') THEN $6 END "
        "  FROM old WHERE t.id = old.id AND t.state = 'processing' AND t.token = old.token "
        "  RETURNING t.id, t.last_error), "
        "ins AS (INSERT INTO coord.task_attempts "
        "  (task_id, attempt, token, execution_id, worker, started_at, ended_at, outcome, error) "
        "SELECT old.id, old.attempts, old.token, old.execution_id, old.worker, old.claimed_at, $6, "
        "       $7, upd.last_error "
        "FROM old JOIN upd ON upd.id = old.id RETURNING task_id) "
        "SELECT old.queue FROM old JOIN ins ON ins.task_id = old.id",
        {INT8OID, INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, BOOLOID});
    bool ended = spi.run(end, {int64_param(task_id), int64_param(token), text_param(to_string(next.next)),
                               timestamptz_param(next.run_at), text_param(error), timestamptz_param(now),
                               text_param(outcome), bool_param(only_if_expired)}) == 1;
    if (!ended) return false;
    metrics::note_tasks(spi.first_row()->get_text(1).value_or(""),
                        next.next == TaskState::cancelled ? metrics::TaskEvent::cancelled_processing
                        : next.next == TaskState::dead    ? metrics::TaskEvent::failed_dead
                                                          : metrics::TaskEvent::failed_retry,
                        1, next.next == TaskState::pending && next.run_at > now);
    // A retry: due after its backoff, announced by the sweep then.
    if (next.next == TaskState::pending) note_task_due_at(next.run_at);
    return true;
}

}  // namespace

double jitter() { return pg_prng_double(&pg_global_prng_state); }

Micros backoff_cap_of(Spi& spi, std::int64_t task_id) {
    static Statement cap(
        "SELECT (pg_catalog.date_part('epoch', q.backoff_max) * 1000000)::pg_catalog.int8 "
        "FROM coord.tasks t JOIN coord.queue_state q ON q.queue = t.queue WHERE t.id = $1",
        {INT8OID}, /*generic_plan=*/true);
    if (spi.run(cap, {int64_param(task_id)}) != 1) return kBackoffCap;
    return spi.first_row()->get_int64(1).value_or(kBackoffCap);
}

bool cancel_task(Spi& spi, std::int64_t task_id, const Caller& caller, Micros now) {
    static Statement look_up(
        "SELECT state, queue, enqueued_by, token FROM coord.tasks WHERE id = $1 FOR UPDATE", {INT8OID});
    static Statement complete("SELECT queue, enqueued_by FROM coord.tasks_complete WHERE id = $1",
                              {INT8OID});
    std::optional<TaskState> state;
    std::string queue;
    Oid enqueued_by = InvalidOid;
    std::int64_t token = 0;
    if (spi.run(look_up, {int64_param(task_id)}) == 1) {
        Row row = *spi.first_row();
        state = parse_task_state(row.get_text(1).value_or(""));
        if (!state) throw Error(sqlstate::internal_error, "task row with an unknown state");
        queue = row.get_text(2).value_or("");
        enqueued_by = row.get_oid(3).value_or(InvalidOid);
        token = row.get_int64(4).value_or(0);
    } else if (spi.run(complete, {int64_param(task_id)}) == 1) {
        Row row = *spi.first_row();
        state = TaskState::complete;
        queue = row.get_text(1).value_or("");
        enqueued_by = row.get_oid(2).value_or(InvalidOid);
    }
    if (state && !may_read(caller, enqueued_by)) {
        // Not the enqueuer's: a role with consume on the queue may cancel it.
        std::optional<QueueInfo> info = load_queue(spi, queue, QueuePrivilege::consume, caller.role());
        if (!info || !may_use_queue(caller, info->access))
            require_queue_privilege(caller, info ? info->access : QueueAccess{enqueued_by, false}, queue,
                                    QueuePrivilege::consume, "cancel the tasks of");
    }
    if (!decide_cancel(state, task_id)) return false;
    if (*state == TaskState::processing) {
        // The running attempt ends as cancelled (history); its token is stale.
        if (!end_attempt(spi, task_id, token, RetryDecision{TaskState::cancelled, now}, "cancelled",
                         "cancelled", now, false))
            throw Error(sqlstate::serialization_failure,
                        fmt::format("task {} changed during cancel", task_id));
        return true;
    }
    static Statement cancel_pending(
        "UPDATE coord.tasks SET state = 'cancelled', finished_at = $2, last_error = 'cancelled' "
        "WHERE id = $1 AND state = 'pending'",
        {INT8OID, TIMESTAMPTZOID});
    if (spi.run(cancel_pending, {int64_param(task_id), timestamptz_param(now)}) != 1) return false;
    metrics::note_tasks(queue, metrics::TaskEvent::cancelled_pending);
    return true;
}

Micros snooze_task(Spi& spi, std::int64_t task_id, std::int64_t token, const Caller& caller,
                   Micros run_in, Micros now) {
    // Back to pending without counting the attempt: no history row (the next
    // claim is that attempt again), the claim's token is stale afterwards.
    static Statement snooze(
        "UPDATE coord.tasks SET state = 'pending', run_at = $3, attempts = attempts - 1, "
        "       worker = NULL, execution_id = NULL, claimed_at = NULL, lease_expires_at = NULL, "
        "       claimed_by = NULL "
        "WHERE id = $1 AND state = 'processing' AND token = $2 AND claimed_by = $4 RETURNING queue",
        {INT8OID, INT8OID, TIMESTAMPTZOID, REGROLEOID}, /*generic_plan=*/true);
    Micros run_at = now + run_in;
    auto snooze_as = [&](Oid role) {
        if (spi.run(snooze, {int64_param(task_id), int64_param(token), timestamptz_param(run_at),
                             role_param(role)}) != 1)
            return false;
        metrics::note_tasks(spi.first_row()->get_text(1).value_or(""), metrics::TaskEvent::snoozed, 1, run_at > now);
        note_task_due_at(run_at);  // announced by the sweep when due
        return true;
    };
    if (snooze_as(caller.role())) return run_at;
    std::optional<TaskClaimState> state = load_claim_state(spi, task_id);  // locked
    require_current_claim(state, task_id, token, "snooze");
    require_claim_role(*state, task_id, caller, "snooze");
    if (state->claimed_by != caller.role() && snooze_as(state->claimed_by)) return run_at;
    throw Error(sqlstate::lease_lost, fmt::format("cannot snooze task {}: claim {} changed", task_id, token));
}

std::int64_t enqueue_task(Spi& spi, const EnqueueRequest& r, Micros now) {
    // Without a dedupe_key a plain insert (no speculative insertion).
    static Statement insert_plain(
        "INSERT INTO coord.tasks (queue, state, payload, priority, run_at, max_attempts, created_at, "
        "                         enqueued_by) "
        "VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7) RETURNING id",
        {TEXTOID, kJsonb, INT4OID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID, REGROLEOID},
        /*generic_plan=*/true);
    static Statement insert(
        "INSERT INTO coord.tasks (queue, state, payload, priority, run_at, max_attempts, "
        "                         dedupe_key, created_at, enqueued_by) "
        "VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8) "
        "ON CONFLICT (queue, dedupe_key) WHERE dedupe_key IS NOT NULL "
        "                                AND state IN ('pending', 'processing') "
        "DO NOTHING RETURNING id",
        {TEXTOID, kJsonb, INT4OID, TIMESTAMPTZOID, INT4OID, TEXTOID, TIMESTAMPTZOID, REGROLEOID});
    if (!r.dedupe_key) {
        spi.run(insert_plain, {text_param(r.queue), datum_param(kJsonb, r.payload),
                               int32_param(r.priority), timestamptz_param(r.run_at),
                               int32_param(r.max_attempts), timestamptz_param(now),
                               role_param(r.enqueued_by)});
        metrics::note_tasks(r.queue, metrics::TaskEvent::enqueued, 1, r.run_at > now);
        return *spi.first_row()->get_int64(1);
    }
    static Statement existing(
        "SELECT id FROM coord.tasks WHERE queue = $1 AND dedupe_key = $2 "
        "AND state IN ('pending', 'processing')",
        {TEXTOID, TEXTOID});
    // dedupe_for: take the key's period row unless a period is running (the
    // upsert waits for a concurrent enqueue of the key, then sees its row);
    // a running period returns the task that began it, and nothing is added.
    static Statement take_period(
        "INSERT INTO coord.task_periods AS p (queue, dedupe_key, task_id, created_at, expires_at) "
        "VALUES ($1, $2, NULL, $3, $4) "
        "ON CONFLICT (queue, dedupe_key) DO UPDATE SET task_id = NULL, created_at = $3, "
        "  expires_at = $4 WHERE p.expires_at <= $3 "
        "RETURNING 1",
        {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}, /*generic_plan=*/true);
    static Statement period_task(
        "SELECT task_id FROM coord.task_periods WHERE queue = $1 AND dedupe_key = $2",
        {TEXTOID, TEXTOID}, /*generic_plan=*/true);
    static Statement set_period_task(
        "UPDATE coord.task_periods SET task_id = $3 WHERE queue = $1 AND dedupe_key = $2",
        {TEXTOID, TEXTOID, INT8OID}, /*generic_plan=*/true);
    if (r.dedupe_for) {
        if (spi.run(take_period, {text_param(r.queue), text_param(r.dedupe_key), timestamptz_param(now),
                                  timestamptz_param(now + *r.dedupe_for)}) != 1) {
            if (spi.run(period_task, {text_param(r.queue), text_param(r.dedupe_key)}) == 1) {
                std::optional<std::int64_t> id = spi.first_row()->get_int64(1);
                if (id) return *id;
            }
            throw Error(sqlstate::serialization_failure,
                        fmt::format("the dedupe_for period of key \"{}\" changed during enqueue",
                                    *r.dedupe_key));
        }
        EnqueueRequest plain = r;
        plain.dedupe_for.reset();
        std::int64_t id = enqueue_task(spi, plain, now);
        spi.run(set_period_task, {text_param(r.queue), text_param(r.dedupe_key), int64_param(id)});
        return id;
    }
    // A conflicting task may finish between the insert and the look-up;
    // then the next insert succeeds.
    for (int round = 0; round < 5; ++round) {
        if (spi.run(insert, {text_param(r.queue), datum_param(kJsonb, r.payload),
                             int32_param(r.priority), timestamptz_param(r.run_at),
                             int32_param(r.max_attempts), text_param(r.dedupe_key),
                             timestamptz_param(now), role_param(r.enqueued_by)}) == 1) {
            metrics::note_tasks(r.queue, metrics::TaskEvent::enqueued, 1, r.run_at > now);
            return *spi.first_row()->get_int64(1);
        }
        if (spi.run(existing, {text_param(r.queue), text_param(r.dedupe_key)}) == 1)
            return *spi.first_row()->get_int64(1);
    }
    throw Error(sqlstate::internal_error,
                fmt::format("task with dedupe_key \"{}\" kept changing during enqueue", *r.dedupe_key));
}

std::vector<std::int64_t> enqueue_tasks(Spi& spi, const EnqueueRequest& r, Datum payloads, Micros now) {
    // Identity values are drawn in the order the rows are inserted (ORDER BY
    // the element's position), so ascending ids are the input order.
    static Statement insert_many(
        "INSERT INTO coord.tasks (queue, state, payload, priority, run_at, max_attempts, created_at, "
        "                         enqueued_by) "
        "SELECT $1, 'pending', u.p, $3, $4, $5, $6, $7 "
        "FROM pg_catalog.unnest($2::pg_catalog.jsonb[]) WITH ORDINALITY AS u(p, n) ORDER BY u.n "
        "RETURNING id",
        {TEXTOID, JSONBARRAYOID, INT4OID, TIMESTAMPTZOID, INT4OID, TIMESTAMPTZOID, REGROLEOID},
        /*generic_plan=*/true);
    std::uint64_t n = spi.run(insert_many, {text_param(r.queue), datum_param(JSONBARRAYOID, payloads),
                                            int32_param(r.priority), timestamptz_param(r.run_at),
                                            int32_param(r.max_attempts), timestamptz_param(now),
                                            role_param(r.enqueued_by)});
    metrics::note_tasks(r.queue, metrics::TaskEvent::enqueued, static_cast<std::int64_t>(n),
                        r.run_at > now ? static_cast<std::int64_t>(n) : 0);
    std::vector<std::int64_t> ids;
    ids.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) ids.push_back(*spi.row(i).get_int64(1));
    std::sort(ids.begin(), ids.end());
    return ids;
}

namespace {

// The rows of a claim's RETURNING (id, payload, attempts, token,
// execution_id, priority, run_at, max_attempts[, queue]) in claim order.
std::vector<ClaimedTask> claimed_rows(Spi& spi, std::uint64_t n, std::optional<std::string_view> queue) {
    std::vector<ClaimedTask> claimed;
    claimed.reserve(n);
    MemoryContext into = spi.caller_context();
    for (std::uint64_t i = 0; i < n; ++i) {
        Row row = spi.row(i);
        claimed.push_back(ClaimedTask{*row.get_int64(1), *row.get_datum_copy(2, into),
                                      *row.get_int32(3), *row.get_int64(4),
                                      *row.get_datum_copy(5, into), *row.get_int32(6),
                                      *row.get_timestamptz(7), *row.get_int32(8),
                                      queue ? std::string(*queue) : row.get_text(9).value_or("")});
    }
    for (const ClaimedTask& t : claimed) metrics::note_tasks(t.queue, metrics::TaskEvent::claimed);
    std::sort(claimed.begin(), claimed.end(), [](const ClaimedTask& a, const ClaimedTask& b) {
        if (a.priority != b.priority) return a.priority > b.priority;
        if (a.run_at != b.run_at) return a.run_at < b.run_at;
        return a.task_id < b.task_id;
    });
    return claimed;
}

}  // namespace

std::vector<ClaimedTask> claim_tasks(Spi& spi, std::string_view queue, std::string_view worker,
                                     Oid claimant, Micros lease, std::int32_t batch, Micros now) {
    // The claim's token comes from the token allocator (coord.new_token: never
    // handed out before, larger than the task's last). The payload and
    // execution_id are passed on as Datums: the casts keep them jsonb and
    // uuid even in a table whose columns were retyped. The picked ids
    // are an array (an InitPlan), so the update looks each one up by primary
    // key: a join could become a merge join that walks the whole primary key
    // index from its start in a generic plan.
    static Statement claim(
        "UPDATE coord.tasks t SET state = 'processing', attempts = t.attempts + 1, "
        "       token = coord.new_token(t.token), worker = $2, execution_id = pg_catalog.gen_random_uuid(), "
        "       claimed_at = $3, lease_expires_at = $4, claimed_by = $6 "
        "WHERE t.id = ANY (ARRAY("
        "  SELECT id FROM coord.tasks "
        "  WHERE queue = $1 AND state = 'pending' AND run_at <= $3 "
        "  ORDER BY priority DESC, run_at, id "
        "  LIMIT $5 FOR UPDATE SKIP LOCKED)) "
        "RETURNING t.id, t.payload::pg_catalog.jsonb, t.attempts, t.token, "
        "          t.execution_id::pg_catalog.uuid, t.priority, t.run_at, t.max_attempts",
        {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, REGROLEOID},
        /*generic_plan=*/true);
    std::uint64_t n = spi.run(claim, {text_param(queue), text_param(worker), timestamptz_param(now),
                                      timestamptz_param(now + lease), int32_param(batch),
                                      role_param(claimant)});
    std::vector<ClaimedTask> claimed = claimed_rows(spi, n, queue);
    // A rollback puts them back: it wakes the claimers waiting for them.
    if (!claimed.empty()) wake_claimers_at_end(queue);
    return claimed;
}

std::vector<ClaimedTask> claim_tasks_of(Spi& spi, const std::vector<std::string>& queues,
                                        std::string_view worker, Oid claimant, Micros lease,
                                        std::int32_t batch, Micros now) {
    if (queues.size() == 1) return claim_tasks(spi, queues.front(), worker, claimant, lease, batch, now);
    // Each queue's best due tasks through tasks_due (LATERAL, so no sort of
    // every due task of the queues), then the best of them all.
    static Statement claim(
        "WITH picked AS ("
        "  SELECT c.id, c.priority, c.run_at "
        "  FROM pg_catalog.unnest($1::pg_catalog.text[]) AS q(queue), "
        "  LATERAL (SELECT id, priority, run_at FROM coord.tasks "
        "           WHERE queue = q.queue AND state = 'pending' AND run_at <= $3 "
        "           ORDER BY priority DESC, run_at, id "
        "           LIMIT $5 FOR UPDATE SKIP LOCKED) c) "
        "UPDATE coord.tasks t SET state = 'processing', attempts = t.attempts + 1, "
        "       token = coord.new_token(t.token), worker = $2, execution_id = pg_catalog.gen_random_uuid(), "
        "       claimed_at = $3, lease_expires_at = $4, claimed_by = $6 "
        "WHERE t.id = ANY (ARRAY("
        "  SELECT id FROM picked ORDER BY priority DESC, run_at, id LIMIT $5)) "
        "RETURNING t.id, t.payload::pg_catalog.jsonb, t.attempts, t.token, "
        "          t.execution_id::pg_catalog.uuid, t.priority, t.run_at, t.max_attempts, t.queue, "
        "          (SELECT pg_catalog.count(*) FROM picked)",
        {TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT4OID, REGROLEOID},
        /*generic_plan=*/true);
    Datum names = pg_call([&] {
        std::vector<Datum> elems;
        elems.reserve(queues.size());
        for (const std::string& q : queues)
            elems.push_back(PointerGetDatum(cstring_to_text_with_len(q.data(), static_cast<int>(q.size()))));
        return PointerGetDatum(construct_array(elems.data(), static_cast<int>(elems.size()), TEXTOID,
                                               -1, false, TYPALIGN_INT));
    });
    std::uint64_t n = spi.run(claim, {datum_param(TEXTARRAYOID, names), text_param(worker),
                                      timestamptz_param(now), timestamptz_param(now + lease),
                                      int32_param(batch), role_param(claimant)});
    std::vector<ClaimedTask> claimed = claimed_rows(spi, n, std::nullopt);
    if (!claimed.empty()) {
        // Rows locked but not claimed (or claimed and put back by a
        // rollback) are free again when this transaction ends.
        std::int64_t locked = spi.row(0).get_int64(10).value_or(0);
        if (locked > static_cast<std::int64_t>(claimed.size())) {
            for (const std::string& q : queues) wake_claimers_at_end(q);
        } else {
            for (const ClaimedTask& t : claimed) wake_claimers_at_end(t.queue);
        }
    }
    return claimed;
}

Micros heartbeat_task(Spi& spi, std::int64_t task_id, std::int64_t token, const Caller& caller,
                      Micros extend, Micros now) {
    static Statement extend_claim(
        "UPDATE coord.tasks SET lease_expires_at = $3 "
        "WHERE id = $1 AND state = 'processing' AND token = $2 AND claimed_by = $4",
        {INT8OID, INT8OID, TIMESTAMPTZOID, REGROLEOID}, /*generic_plan=*/true);
    Micros expires_at = now + extend;
    auto extend_as = [&](Oid role) {
        return spi.run(extend_claim, {int64_param(task_id), int64_param(token),
                                      timestamptz_param(expires_at), role_param(role)}) == 1;
    };
    if (extend_as(caller.role())) return expires_at;
    std::optional<TaskClaimState> state = load_claim_state(spi, task_id);  // locked
    require_current_claim(state, task_id, token, "heartbeat");
    require_claim_role(*state, task_id, caller, "heartbeat");
    // An administrator acts as the claim's role: the claim stays that role's.
    if (state->claimed_by != caller.role() && extend_as(state->claimed_by)) return expires_at;
    // The claim is current now although the update found nothing: it
    // changed in between; report it as lost rather than guess.
    throw Error(sqlstate::lease_lost, fmt::format("cannot heartbeat task {}: claim {} changed", task_id, token));
}

bool complete_task(std::int64_t task_id, std::int64_t token, const Caller& caller,
                   std::optional<Datum> result, Micros now) {
    TaskMove move = move_completed_task(task_id, token, caller.role(), result, now);
    if (move == TaskMove::moved) return true;
    Spi spi;
    // The same move as one statement, for tables the executor must write
    // (an administrator added a trigger or a constraint), and for an
    // administrator completing another role's claim.
    static Statement move_by_sql(
        "WITH moved AS ("
        "  DELETE FROM coord.tasks WHERE id = $1 AND state = 'processing' AND token = $2 "
        "    AND claimed_by = $5 "
        "  RETURNING *) "
        "INSERT INTO coord.tasks_complete (id, queue, payload, priority, attempts, max_attempts, "
        "                                  dedupe_key, token, created_at, completed_at, "
        "                                  execution_id, worker, started_at, result, "
        "                                  enqueued_by, claimed_by) "
        "SELECT id, queue, payload, priority, attempts, max_attempts, dedupe_key, token, "
        "       created_at, $4, execution_id, worker, claimed_at, $3, enqueued_by, claimed_by "
        "FROM moved RETURNING queue",
        {INT8OID, INT8OID, kJsonb, TIMESTAMPTZOID, REGROLEOID}, /*generic_plan=*/true);
    auto move_as = [&](Oid role) {
        if (spi.run(move_by_sql, {int64_param(task_id), int64_param(token), datum_param(kJsonb, result),
                                  timestamptz_param(now), role_param(role)}) != 1)
            return false;
        metrics::note_tasks(spi.first_row()->get_text(1).value_or(""), metrics::TaskEvent::completed);
        return true;
    };
    if (move == TaskMove::needs_sql && move_as(caller.role())) return true;
    std::optional<TaskClaimState> state = load_claim_state(spi, task_id);  // locked
    // The same completion again: nothing to do.
    if (state && state->state == TaskState::complete && state->token == token) {
        require_claim_role(*state, task_id, caller, "complete");
        return false;
    }
    require_current_claim(state, task_id, token, "complete");
    require_claim_role(*state, task_id, caller, "complete");
    // An administrator acts as the claim's role: the completion stays that role's.
    if (state->claimed_by != caller.role() && move_as(state->claimed_by)) return true;
    throw Error(sqlstate::lease_lost, fmt::format("cannot complete task {}: claim {} changed", task_id, token));
}

TaskState fail_task(Spi& spi, std::int64_t task_id, std::int64_t token, const Caller& caller,
                    const std::string& error, std::optional<Micros> retry_in, bool retry, Micros now) {
    std::optional<TaskClaimState> state = load_claim_state(spi, task_id);
    require_current_claim(state, task_id, token, "fail");
    require_claim_role(*state, task_id, caller, "fail");
    RetryDecision next = decide_retry(*state, now, retry_in, jitter(), retry, backoff_cap_of(spi, task_id));
    if (!end_attempt(spi, task_id, token, next, "failed", error, now, false))
        throw Error(sqlstate::lease_lost, fmt::format("cannot fail task {}: claim {} changed", task_id, token));
    return next.next;
}

bool retry_dead_task(Spi& spi, std::int64_t task_id, Micros now) {
    static Statement duplicate(
        "SELECT o.id FROM coord.tasks t JOIN coord.tasks o "
        "  ON o.queue = t.queue AND o.dedupe_key = t.dedupe_key AND o.state IN ('pending', 'processing') "
        "WHERE t.id = $1",
        {INT8OID});
    static Statement revive(
        "UPDATE coord.tasks SET state = 'pending', run_at = $2, max_attempts = $3, finished_at = NULL "
        "WHERE id = $1 AND state = 'dead' RETURNING queue",
        {INT8OID, TIMESTAMPTZOID, INT4OID});
    std::optional<std::int32_t> max_attempts = decide_retry_dead(load_claim_state(spi, task_id));
    if (!max_attempts) return false;
    if (spi.run(duplicate, {int64_param(task_id)}) > 0)
        throw Error(sqlstate::invalid_transition,
                    fmt::format("task {} cannot be retried: task {} of its queue has the same "
                                "dedupe_key and is not finished",
                                task_id, *spi.first_row()->get_int64(1)));
    if (spi.run(revive, {int64_param(task_id), timestamptz_param(now), int32_param(*max_attempts)}) != 1)
        return false;
    metrics::note_tasks(spi.first_row()->get_text(1).value_or(""), metrics::TaskEvent::revived);
    note_task_due_at(now);  // announced by the next sweep
    return true;
}

std::pair<std::int64_t, std::int64_t> requeue_expired_claims(Spi& spi, Micros now, long limit) {
    // Rows a client is completing right now are locked: skipped, not waited
    // for; if still expired they are requeued by the next sweep.
    static Statement expired(
        "SELECT t.id, t.token, t.attempts, t.max_attempts, "
        "       (SELECT (pg_catalog.date_part('epoch', q.backoff_max) * 1000000)::pg_catalog.int8 "
        "        FROM coord.queue_state q WHERE q.queue = t.queue) "
        "FROM coord.tasks t "
        "WHERE t.state = 'processing' AND t.lease_expires_at < $1 "
        "ORDER BY t.lease_expires_at, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED",
        {TIMESTAMPTZOID, INT4OID});
    struct Seen {
        std::int64_t id;
        TaskClaimState state;
        Micros backoff_cap;
    };
    std::vector<Seen> seen;
    std::uint64_t n = spi.run(expired, {timestamptz_param(now), int32_param(static_cast<std::int32_t>(limit))});
    for (std::uint64_t i = 0; i < n; ++i) {
        Row row = spi.row(i);
        seen.push_back(Seen{*row.get_int64(1),
                            TaskClaimState{TaskState::processing, *row.get_int64(2),
                                           *row.get_int32(3), *row.get_int32(4)},
                            row.get_int64(5).value_or(kBackoffCap)});
    }
    std::int64_t requeued = 0, dead = 0;
    for (const Seen& s : seen) {
        RetryDecision next = decide_retry(s.state, now, std::nullopt, jitter(), true, s.backoff_cap);
        if (!end_attempt(spi, s.id, s.state.token, next, "expired", std::nullopt, now, true)) continue;
        (next.next == TaskState::dead ? dead : requeued) += 1;
    }
    return {requeued, dead};
}

std::int64_t announce_due_queues(Spi& spi, Micros now) {
    Micros hint = take_due_hint();
    if (hint > now) {  // nothing scheduled has come due since the last look
        give_due_hint(hint);
        return 0;
    }
    try {
        static Statement queues("SELECT queue, notify, paused FROM coord.queue_state ORDER BY queue", {});
        // Per priority of the queue's pending tasks (found by skipping
        // through tasks_due, not by reading every entry): is one due in
        // [$2, $3], and the earliest run_at after $3.
        static Statement check(
            "WITH RECURSIVE prios(p) AS ("
            "  (SELECT priority FROM coord.tasks WHERE queue = $1 AND state = 'pending' "
            "   ORDER BY priority DESC LIMIT 1) "
            "  UNION ALL "
            "  SELECT (SELECT t.priority FROM coord.tasks t "
            "          WHERE t.queue = $1 AND t.state = 'pending' AND t.priority < prios.p "
            "          ORDER BY t.priority DESC LIMIT 1) "
            "  FROM prios WHERE prios.p IS NOT NULL) "
            "SELECT EXISTS (SELECT FROM prios WHERE prios.p IS NOT NULL AND EXISTS ("
            "         SELECT FROM coord.tasks t WHERE t.queue = $1 AND t.state = 'pending' "
            "           AND t.priority = prios.p AND t.run_at >= $2 AND t.run_at <= $3)), "
            "       (SELECT pg_catalog.min((SELECT t.run_at FROM coord.tasks t "
            "                               WHERE t.queue = $1 AND t.state = 'pending' "
            "                                 AND t.priority = prios.p AND t.run_at > $3 "
            "                               ORDER BY t.run_at LIMIT 1)) "
            "        FROM prios WHERE prios.p IS NOT NULL)",
            {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID});
        struct Queue {
            std::string name;
            bool notify;
            bool paused;
        };
        std::vector<Queue> all;
        std::uint64_t n = spi.run(queues, {});
        all.reserve(n);
        for (std::uint64_t i = 0; i < n; ++i) {
            Row row = spi.row(i);
            all.push_back(Queue{row.get_text(1).value_or(""), row.get_boolean(2).value_or(true),
                                row.get_boolean(3).value_or(false)});
        }
        Micros next = std::numeric_limits<Micros>::max();
        std::int64_t announced = 0;
        for (const Queue& q : all) {
            spi.run(check, {text_param(q.name), timestamptz_param(hint), timestamptz_param(now)});
            Row row = *spi.first_row();
            if (row.get_boolean(1).value_or(false) && !q.paused) {
                announce_due(q.name, q.notify);
                ++announced;
            }
            if (std::optional<Micros> later = row.get_timestamptz(2)) next = std::min(next, *later);
        }
        give_due_hint(next);
        return announced;
    } catch (...) {
        give_due_hint(hint);  // the next sweep looks again
        throw;
    }
}

std::int64_t prune_completed(Spi& spi, Micros now, long limit) {
    // Each queue's own retention: the queues (few) drive the look-ups, each
    // one a range of the completion-time (BRIN) or finished_at index. Rows
    // another transaction is deleting (another sweep's prune, not yet
    // committed) are skipped, not waited for.
    static Statement prune(
        "WITH gone AS ("
        "  DELETE FROM coord.tasks_complete WHERE id = ANY (ARRAY("
        "    SELECT c.id FROM coord.queue_state q "
        "    CROSS JOIN LATERAL (SELECT id FROM coord.tasks_complete c "
        "                        WHERE c.completed_at < $1 - q.retention AND c.queue = q.queue "
        "                        LIMIT $2 FOR UPDATE SKIP LOCKED) c "
        "    LIMIT $2)) "
        "  RETURNING id, queue), "
        "history AS (DELETE FROM coord.task_attempts a USING gone WHERE a.task_id = gone.id) "
        "SELECT queue, count(*) FROM gone GROUP BY queue",
        {TIMESTAMPTZOID, INT4OID});
    std::int64_t pruned = 0;
    auto count_pruned = [&](std::uint64_t rows, metrics::TaskEvent event) {
        for (std::uint64_t i = 0; i < rows; ++i) {
            std::int64_t n = spi.row(i).get_int64(2).value_or(0);
            metrics::note_tasks(spi.row(i).get_text(1).value_or(""), event, n);
            pruned += n;
        }
    };
    count_pruned(spi.run(prune, {timestamptz_param(now), int32_param(static_cast<std::int32_t>(limit))}),
                 metrics::TaskEvent::pruned_complete);
    // Dead and cancelled tasks are kept as long as completed ones (one
    // statement per state: each reads its own partial index).
#define COORD_PRUNE_FINISHED(STATE)                                                               \
    "WITH gone AS ("                                                                              \
    "  DELETE FROM coord.tasks WHERE id = ANY (ARRAY("                                            \
    "    SELECT t.id FROM coord.queue_state q "                                                   \
    "    CROSS JOIN LATERAL (SELECT id FROM coord.tasks t "                                       \
    "                        WHERE t.state = '" STATE "' AND t.queue = q.queue "                  \
    "                          AND t.finished_at < $1 - q.retention "                             \
    "                        LIMIT $2 FOR UPDATE SKIP LOCKED) t "                                 \
    "    LIMIT $2)) AND state = '" STATE "' "                                                     \
    "  RETURNING id, queue), "                                                                    \
    "history AS (DELETE FROM coord.task_attempts a USING gone WHERE a.task_id = gone.id) "       \
    "SELECT queue, count(*) FROM gone GROUP BY queue"
    static Statement prune_cancelled(COORD_PRUNE_FINISHED("cancelled"), {TIMESTAMPTZOID, INT4OID});
    static Statement prune_dead(COORD_PRUNE_FINISHED("dead"), {TIMESTAMPTZOID, INT4OID});
#undef COORD_PRUNE_FINISHED
    count_pruned(spi.run(prune_cancelled, {timestamptz_param(now), int32_param(static_cast<std::int32_t>(limit))}),
                 metrics::TaskEvent::pruned_cancelled);
    count_pruned(spi.run(prune_dead, {timestamptz_param(now), int32_param(static_cast<std::int32_t>(limit))}),
                 metrics::TaskEvent::pruned_dead);
    static Statement prune_periods(
        "DELETE FROM coord.task_periods WHERE (queue, dedupe_key) IN ("
        "  SELECT queue, dedupe_key FROM coord.task_periods WHERE expires_at <= $1 LIMIT $2 "
        "  FOR UPDATE SKIP LOCKED)",
        {TIMESTAMPTZOID, INT4OID});
    spi.run(prune_periods, {timestamptz_param(now), int32_param(static_cast<std::int32_t>(limit))});
    return pruned;
}

}  // namespace coord::pg
