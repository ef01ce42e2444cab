// Task rows through SPI: each operation is one or two prepared statements,
// every state change a compare-and-set on (id, state, token).
#pragma once

#include "core/queue/task.hpp"
#include "pg/common/spi.hpp"

#include <vector>

namespace coord::pg {

struct EnqueueRequest {
    std::string_view queue;
    Datum payload;  // jsonb
    Micros run_at;
    std::int32_t priority;
    std::int32_t max_attempts;
    std::optional<std::string_view> dedupe_key;
    // With dedupe_key: the key also blocks new tasks until created_at +
    // dedupe_for, even once the task finished (coord.task_periods).
    std::optional<Micros> dedupe_for;
    Oid enqueued_by;  // the caller's role: who may read the task (core/queue/task.hpp)
};
std::int64_t enqueue_task(Spi& spi, const EnqueueRequest& request, Micros now);
// Many tasks without dedupe keys in one statement: `payloads` is the jsonb[]
// argument (checked by the caller); returns the ids in input order.
std::vector<std::int64_t> enqueue_tasks(Spi& spi, const EnqueueRequest& common, Datum payloads, Micros now);

struct ClaimedTask {
    std::int64_t task_id;
    Datum payload;       // jsonb, copied into the caller's memory context
    std::int32_t attempt;
    std::int64_t token;
    Datum execution_id;  // uuid, copied into the caller's memory context
    std::int32_t priority;
    Micros run_at;
    std::int32_t max_attempts;
    std::string queue;
};
// Highest priority first, then oldest run_at, then id. The claims belong to
// `claimant`, the caller's role.
std::vector<ClaimedTask> claim_tasks(Spi& spi, std::string_view queue, std::string_view worker,
                                     Oid claimant, Micros lease, std::int32_t batch, Micros now);
// The same over several queues (distinct names): the best `batch` due tasks
// of them all. Each queue's best `batch` are locked first (SKIP LOCKED);
// those not claimed stay locked until the transaction ends, whose end then
// wakes the claimers waiting for their queues.
std::vector<ClaimedTask> claim_tasks_of(Spi& spi, const std::vector<std::string>& queues,
                                        std::string_view worker, Oid claimant, Micros lease,
                                        std::int32_t batch, Micros now);

// heartbeat, complete and fail of another role's claim: 42501 unless the
// caller is coord_admin (core/queue/task.hpp), and nothing changes.
Micros heartbeat_task(Spi& spi, std::int64_t task_id, std::int64_t token, const Caller& caller,
                      Micros extend, Micros now);
// Connects to SPI only when the direct move (task_move.hpp) cannot decide.
bool complete_task(std::int64_t task_id, std::int64_t token, const Caller& caller,
                   std::optional<Datum> result, Micros now);
TaskState fail_task(Spi& spi, std::int64_t task_id, std::int64_t token, const Caller& caller,
                    const std::string& error, std::optional<Micros> retry_in, bool retry, Micros now);
// The backoff cap of the task's queue (its backoff_max).
Micros backoff_cap_of(Spi& spi, std::int64_t task_id);
// cancel: the enqueuer (a role with its privileges), a role with consume on
// the queue, or coord_admin (42501 otherwise); 42704 for an unknown task.
bool cancel_task(Spi& spi, std::int64_t task_id, const Caller& caller, Micros now);
// snooze: the claim's role (or coord_admin); PC001 for a stale token.
Micros snooze_task(Spi& spi, std::int64_t task_id, std::int64_t token, const Caller& caller,
                   Micros run_in, Micros now);
bool retry_dead_task(Spi& spi, std::int64_t task_id, Micros now);

// Sweep: requeue (or dead-letter) up to `limit` processing tasks whose claim
// expired before `now`. Returns {requeued, dead_lettered}.
std::pair<std::int64_t, std::int64_t> requeue_expired_claims(Spi& spi, Micros now, long limit);
// Sweep: tasks that became due by their run_at since the last look (a
// schedule, a retry's backoff, a requeue, a snooze; claim_waiting.hpp's
// hint says when a look is needed): wakes the claimers waiting for each such
// queue when the sweep commits and sends its NOTIFY coord_tasks (queues
// with notify), once per queue. Paused queues are left to their resume.
// Returns how many queues were announced.
std::int64_t announce_due_queues(Spi& spi, Micros now);
// Sweep: delete up to `limit` finished tasks with their attempt history.
// Returns how many.
// Per queue: completed, dead and cancelled tasks finished longer ago than
// the queue's retention (coord.queue_state.retention) before `now`, and
// dedupe_for periods that ended before `now`.
std::int64_t prune_completed(Spi& spi, Micros now, long limit);

// A random number in [0, 1) for backoff jitter.
double jitter();

}  // namespace coord::pg
