#include "core/queue/task.hpp"

#include "core/common/error.hpp"
#include "core/common/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace coord {

const char* to_string(TaskState state) {
    switch (state) {
        case TaskState::pending: return "pending";
        case TaskState::processing: return "processing";
        case TaskState::complete: return "complete";
        case TaskState::dead: return "dead";
        case TaskState::cancelled: return "cancelled";
    }
    return "unknown";
}

std::optional<TaskState> parse_task_state(std::string_view text) {
    for (TaskState s : {TaskState::pending, TaskState::processing, TaskState::complete, TaskState::dead,
                        TaskState::cancelled})
        if (text == to_string(s)) return s;
    return std::nullopt;
}

std::string_view require_queue_name(std::optional<std::string_view> queue) {
    return require_text(queue, "queue", kMaxQueueNameBytes);
}

std::string_view require_worker(std::optional<std::string_view> worker) {
    return require_text(worker, "worker", kMaxWorkerBytes);
}

std::optional<std::string_view> check_dedupe_key(std::optional<std::string_view> key) {
    if (!key) return std::nullopt;
    return require_text(key, "dedupe_key", kMaxDedupeKeyBytes);
}

std::int32_t require_max_attempts(std::optional<std::int32_t> max_attempts) {
    std::int32_t v = require_present(max_attempts, "max_attempts");
    if (v < 1 || v > kMaxAttemptsLimit)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("max_attempts must be between 1 and {}", kMaxAttemptsLimit));
    return v;
}

std::int32_t require_priority(std::optional<std::int32_t> priority) {
    return require_present(priority, "priority");
}

std::int32_t require_batch(std::optional<std::int32_t> batch) {
    std::int32_t v = require_present(batch, "batch");
    if (v < 1 || v > kMaxClaimBatch)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("batch must be between 1 and {}", kMaxClaimBatch));
    return v;
}

void check_json_size(std::size_t bytes, const char* param) {
    if (bytes > kMaxPayloadBytes)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} is too large ({} bytes, at most {})", param, bytes, kMaxPayloadBytes));
}

Micros resolve_run_at(std::optional<Micros> run_at, Micros now) {
    if (!run_at) return now;
    if (*run_at - now > kMaxRunAtAhead)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("run_at must be at most {} ahead", describe_duration(kMaxRunAtAhead)));
    return *run_at;
}

std::string normalize_error_text(std::optional<std::string_view> error) {
    if (!error) throw_null_argument("error");
    if (error->empty())
        throw Error(sqlstate::invalid_parameter_value, "error must not be empty");
    if (error->size() <= kMaxTaskErrorBytes) return std::string(*error);
    constexpr std::string_view kMark = " ... [truncated]";
    std::size_t cut = kMaxTaskErrorBytes - kMark.size();
    // Back up to the first byte of a UTF-8 character (not a continuation byte).
    while (cut > 0 && (static_cast<unsigned char>((*error)[cut]) & 0xC0) == 0x80) --cut;
    return std::string(error->substr(0, cut)) + std::string(kMark);
}

Micros backoff_delay(std::int32_t attempt, double jitter, Micros cap) {
    jitter = std::clamp(jitter, 0.0, 1.0);
    if (cap <= 0) cap = kBackoffCap;
    Micros delay = cap;
    if (attempt < 1) attempt = 1;
    if (attempt - 1 < 40) delay = std::min(cap, kBackoffBase << (attempt - 1));
    Micros half = delay / 2;
    return half + static_cast<Micros>(std::floor(static_cast<double>(delay - half) * jitter));
}

void require_current_claim(const std::optional<TaskClaimState>& task, std::int64_t task_id,
                           std::int64_t token, const char* action) {
    if (!task)
        throw Error(sqlstate::lease_lost,
                    fmt::format("cannot {} task {}: no such task", action, task_id),
                    "It never existed, or it completed and was pruned after coord.completed_retention.");
    if (task->state == TaskState::processing && task->token == token) return;
    std::string detail;
    if (task->token != token)
        detail = fmt::format("The task is {} and its current claim token is {}, not {}.",
                             to_string(task->state), task->token, token);
    else
        detail = fmt::format("The task is {}: claim {} has ended.", to_string(task->state), token);
    throw Error(sqlstate::lease_lost,
                fmt::format("cannot {} task {}: claim {} is not the current claim", action, task_id, token),
                detail, "The claim expired and the task was requeued, or it was already finished.");
}

void require_claim_role(const TaskClaimState& task, std::int64_t task_id, const Caller& caller,
                        const char* action) {
    if (task.claimed_by == caller.role()) return;  // the common case: no look-up
    std::string subject = fmt::format("task {}", task_id);
    const char* belongs = task.state == TaskState::processing ? "is claimed by" : "was completed by";
    require_may_act(caller, action, RoleBound{subject, belongs, task.claimed_by});
}

void require_task_reader(const Caller& caller, std::int64_t task_id, RoleId enqueued_by,
                         std::optional<RoleId> claimed_by) {
    if (claimed_by && *claimed_by == caller.role()) return;
    std::string subject = fmt::format("task {}", task_id);
    require_may_read(caller, RoleBound{subject, "was enqueued by", enqueued_by});
}

RetryDecision decide_retry(const TaskClaimState& task, Micros now, std::optional<Micros> retry_in,
                           double jitter, bool retry, Micros backoff_cap) {
    if (!retry || task.attempts >= task.max_attempts) return {TaskState::dead, now};
    Micros delay = retry_in ? *retry_in : backoff_delay(task.attempts, jitter, backoff_cap);
    return {TaskState::pending, now + delay};
}

bool decide_cancel(const std::optional<TaskState>& state, std::int64_t task_id) {
    if (!state)
        throw Error(sqlstate::undefined_object, fmt::format("task {} does not exist", task_id),
                    "It never existed, or it finished and was pruned after its queue's retention.");
    return *state == TaskState::pending || *state == TaskState::processing;
}

void require_batch_array(const char* param, bool present, std::size_t count,
                         std::optional<std::size_t> first_null) {
    if (!present)
        throw Error(sqlstate::null_value_not_allowed, fmt::format("{} must not be NULL", param));
    if (count == 0)
        throw Error(sqlstate::invalid_parameter_value, fmt::format("{} must not be empty", param));
    if (count > kMaxBatchElements)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} has {} elements, at most {}", param, count, kMaxBatchElements));
    if (first_null)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} must not contain NULL (element {})", param, *first_null));
}

void require_same_length(const char* param, std::size_t count, const char* other,
                         std::size_t other_count) {
    if (count != other_count)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} has {} elements, {} has {}: they must be as many", param, count,
                                other, other_count));
}

Micros resolve_run_at_or_in(std::optional<Micros> run_at, std::optional<IntervalParts> run_in,
                            Micros now) {
    if (!run_in) return resolve_run_at(run_at, now);
    if (run_at)
        throw Error(sqlstate::invalid_parameter_value, "run_at and run_in must not both be given",
                    {}, "Pass one of them: run_at => a time, or run_in => an interval from now.");
    return now + require_run_in(run_in);
}

std::optional<Micros> check_dedupe_for(std::optional<IntervalParts> dedupe_for, bool has_dedupe_key) {
    if (!dedupe_for) return std::nullopt;
    if (!has_dedupe_key)
        throw Error(sqlstate::invalid_parameter_value, "dedupe_for needs a dedupe_key", {},
                    "Pass dedupe_key => a key naming the period, e.g. 'report:2026-12-04'.");
    return require_duration(dedupe_for, "dedupe_for", kMaxRunAtAhead);
}

TaskState require_purge_state(std::optional<std::string_view> state) {
    std::string_view text = require_present(state, "state");
    std::optional<TaskState> parsed = parse_task_state(text);
    if (!parsed || *parsed == TaskState::processing)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("state must be pending, dead, cancelled or complete, not \"{}\"",
                                text.substr(0, 64)));
    return *parsed;
}

Micros require_run_in(std::optional<IntervalParts> run_in) {
    return require_non_negative_duration(run_in, "run_in", kMaxRunAtAhead);
}

std::optional<std::int32_t> decide_retry_dead(const std::optional<TaskClaimState>& task) {
    if (!task || task->state != TaskState::dead) return std::nullopt;
    return std::max(task->max_attempts, task->attempts + 1);
}

Micros require_claim_wait(std::optional<IntervalParts> wait_for) {
    return require_non_negative_duration(wait_for, "wait_for", kMaxClaimWait);
}

std::vector<std::string> require_claim_queues(bool present,
                                              const std::vector<std::optional<std::string_view>>& queues) {
    std::optional<std::size_t> first_null;
    for (std::size_t k = 0; k < queues.size() && !first_null; ++k)
        if (!queues[k]) first_null = k + 1;
    require_batch_array("queues", present, queues.size(), first_null);
    std::vector<std::string> out;
    out.reserve(queues.size());
    for (const std::optional<std::string_view>& q : queues) {
        std::string name(require_text(q, "queues", kMaxQueueNameBytes));
        if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
    }
    return out;
}

}  // namespace coord
