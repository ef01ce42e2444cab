// Task queue rules: states and transitions, claim tokens, argument limits,
// and retry backoff. The glue reads the task row (locked), asks these
// functions, and writes what they decided with a compare-and-set.
//
//   pending --claim--> processing --complete--> complete
//                          |  \--fail / claim expired--> pending (retry) | dead
//   dead --retry_dead (admin)--> pending
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/roles.hpp"
#include "core/common/time.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord {

// Documented limits (README, "Task queue").
inline constexpr std::size_t kMaxQueueNameBytes = 128;
inline constexpr std::size_t kMaxWorkerBytes = 256;
inline constexpr std::size_t kMaxDedupeKeyBytes = 256;
inline constexpr std::size_t kMaxPayloadBytes = 1 << 20;  // jsonb payload and result, stored size
inline constexpr std::size_t kMaxTaskErrorBytes = 8192;   // longer error texts are truncated
inline constexpr std::int32_t kMaxAttemptsLimit = 1000;
inline constexpr std::int32_t kMaxClaimBatch = 1000;
inline constexpr Micros kMaxClaimLease = 7 * kMicrosPerDay;
inline constexpr Micros kMaxRetryDelay = 30 * kMicrosPerDay;
inline constexpr Micros kMaxRunAtAhead = 3650 * kMicrosPerDay;

// Retry backoff when fail() gives no retry_in, and after an expired claim:
// min(cap, base * 2^(attempt-1)), then "equal jitter": half of it fixed and
// half scaled by a random number in [0, 1).
inline constexpr Micros kBackoffBase = kMicrosPerSecond;
inline constexpr Micros kBackoffCap = kMicrosPerHour;

// cancelled (issue 12): terminal, kept in coord.tasks until the retention ends.
enum class TaskState { pending, processing, complete, dead, cancelled };

const char* to_string(TaskState state);
std::optional<TaskState> parse_task_state(std::string_view text);

// Argument checks (22004 / 22023 naming the parameter).
std::string_view require_queue_name(std::optional<std::string_view> queue);
std::string_view require_worker(std::optional<std::string_view> worker);
std::optional<std::string_view> check_dedupe_key(std::optional<std::string_view> key);
std::int32_t require_max_attempts(std::optional<std::int32_t> max_attempts);
std::int32_t require_priority(std::optional<std::int32_t> priority);
std::int32_t require_batch(std::optional<std::int32_t> batch);
// A jsonb value's stored size; `param` is "payload" or "result".
void check_json_size(std::size_t bytes, const char* param);
// run_at NULL means now; at most kMaxRunAtAhead in the future.
Micros resolve_run_at(std::optional<Micros> run_at, Micros now);
// An error text is required (not NULL, not empty); longer than
// kMaxTaskErrorBytes it is cut at a UTF-8 character boundary and marked.
std::string normalize_error_text(std::optional<std::string_view> error);

// Jitter in [0, 1): the caller's random source (tests pass fixed values).
Micros backoff_delay(std::int32_t attempt, double jitter, Micros cap = kBackoffCap);

// What a task row holds that the rules look at.
struct TaskClaimState {
    TaskState state;
    std::int64_t token;         // the current (or last) claim's token
    std::int32_t attempts;      // attempts started so far (the current one included)
    std::int32_t max_attempts;
    RoleId claimed_by = 0;      // processing: the claim's role; complete: the completing claim's
};

// The claim identified by `token` is the task's current claim: the task is
// processing under that token. An expired claim stays current until the
// sweep requeues it (then a new claim gets a new, larger token). Throws PC001
// (lease_lost) otherwise; `task_id` and `action` are for the message.
void require_current_claim(const std::optional<TaskClaimState>& task, std::int64_t task_id,
                           std::int64_t token, const char* action);

// A claim belongs to the role that claimed: heartbeat, complete and fail of
// claim `token` (current, or the completing one of a completed task) by
// another role throw 42501 unless the caller is coord_admin.
void require_claim_role(const TaskClaimState& task, std::int64_t task_id, const Caller& caller,
                        const char* action);

// Who may read a task's record through coord.task() (payload, result,
// errors): a role with the privileges of the role that enqueued it, the role
// of its current or completing claim (claim handed it the payload), or
// coord_admin. 42501 otherwise.
void require_task_reader(const Caller& caller, std::int64_t task_id, RoleId enqueued_by,
                         std::optional<RoleId> claimed_by);

// Where a failed (or expired) attempt leaves the task.
struct RetryDecision {
    TaskState next;  // pending or dead
    Micros run_at;   // when pending: the next attempt's earliest start
};
// retry_in: the caller's delay, or nullopt for backoff with `jitter`.
// retry false (fail(retry => false): a permanent failure): dead at once.
// backoff_cap: the queue's backoff_max.
RetryDecision decide_retry(const TaskClaimState& task, Micros now, std::optional<Micros> retry_in,
                           double jitter, bool retry = true, Micros backoff_cap = kBackoffCap);

// cancel: a pending or processing task becomes cancelled (true); a finished
// one (complete, dead, cancelled) stays as it is (false). 42704 when there
// is no such task (never existed, or pruned).
bool decide_cancel(const std::optional<TaskState>& state, std::int64_t task_id);

// Batch arrays (enqueue_many, complete_many): at most kMaxBatchElements
// elements, none NULL, equal lengths where they pair up. 22004 for a NULL
// array, 22023 naming the argument otherwise.
inline constexpr std::size_t kMaxBatchElements = 1000;
void require_batch_array(const char* param, bool present, std::size_t count,
                         std::optional<std::size_t> first_null);
void require_same_length(const char* param, std::size_t count, const char* other,
                         std::size_t other_count);
// enqueue: run_at and run_in are exclusive (22023); run_in 0 … kMaxRunAtAhead.
Micros resolve_run_at_or_in(std::optional<Micros> run_at, std::optional<IntervalParts> run_in,
                            Micros now);

// enqueue's dedupe_for ("once per period"): NULL: none; otherwise strictly
// positive, at most kMaxRunAtAhead, and only with a dedupe_key (22023).
std::optional<Micros> check_dedupe_for(std::optional<IntervalParts> dedupe_for, bool has_dedupe_key);

// purge's state: pending, dead, cancelled or complete (not processing: a
// claim is a worker's; cancel it first). 22004 / 22023 naming `state`.
TaskState require_purge_state(std::optional<std::string_view> state);

// claim's wait_for: 0 … kMaxClaimWait (22004 / 22023 naming it).
inline constexpr Micros kMaxClaimWait = kMicrosPerDay;
Micros require_claim_wait(std::optional<IntervalParts> wait_for);

// claim's queues (the multi-queue form): 1 … kMaxBatchElements names, none
// NULL, each a valid queue name (22004 / 22023 naming `queues`). Returns the
// names without repeats, in their first order.
std::vector<std::string> require_claim_queues(bool present,
                                              const std::vector<std::optional<std::string_view>>& queues);

// snooze's run_in: 0 … kMaxRunAtAhead (22004 / 22023 naming it).
Micros require_run_in(std::optional<IntervalParts> run_in);

// retry_dead: a dead task gets one more attempt (max_attempts raised by one
// if they were used up). Returns the new max_attempts, or nullopt when the
// task is not dead (nothing to do).
std::optional<std::int32_t> decide_retry_dead(const std::optional<TaskClaimState>& task);

}  // namespace coord
