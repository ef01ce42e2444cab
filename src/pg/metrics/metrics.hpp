// Operational metrics (issue 12): counters that only go up while the server
// runs and per-queue gauges, in shared memory, read by coord.metrics() and
// coord.queue_stats without scanning the task tables.
//
// Counting: a call site records an event with one line. Events of a
// transaction are kept in the backend and applied to shared memory (atomic
// adds) when it commits; a rolled-back (sub)transaction's events are
// dropped. count_now() is for events whose transaction is aborted by the
// event itself (a fence rejection, a deadlock victim) or that are not
// transactional (a sweep).
//
// Gauges (pending, processing, complete, dead, cancelled per queue) are
// deltas applied at commit on top of one count of the tables, made by the
// sweep (metrics_sweep.cpp) the first time it runs after the server
// started, under a SHARE lock of coord.tasks and coord.tasks_complete (no
// writer in flight, so no delta is lost or counted twice). They are valid
// only for that database and extension, and until coord.tasks or
// coord.tasks_complete get a new relfilenode (TRUNCATE): readers check and
// fall back to counting. Everything here needs pg_coord in
// shared_preload_libraries; without it the calls do nothing.
#pragma once

#include "core/common/time.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace coord::pg::metrics {

enum class Counter : int {
    lease_acquisitions,     // a holding granted (acquire, a hand-off)
    lease_takeovers,        // ... of a name whose holding had expired
    fence_rejections,       // a stale token refused (PC001), counted at once
    deadlocks,              // a deadlock victim chosen, counted at once
    sweeps_run,
    sweeps_failed,          // a sweep (or one of its steps) failed
    count_
};

// What happened to tasks of a queue; the gauges and counters each moves.
enum class TaskEvent : int {
    enqueued,              // -> pending (counter enqueued)
    claimed,               // pending -> processing
    completed,             // processing -> complete (counter completed)
    failed_retry,          // processing -> pending (counter failed)
    failed_dead,           // processing -> dead (counters failed, dead)
    snoozed,               // processing -> pending
    cancelled_pending,     // pending -> cancelled (counter cancelled)
    cancelled_processing,  // processing -> cancelled (counter cancelled)
    revived,               // dead -> pending (retry_dead)
    purged_pending,        // pending -> gone (purge)
    purged_dead,
    purged_cancelled,
    purged_complete,
    pruned_complete,       // the sweep's retention
    pruned_dead,
    pruned_cancelled,
    count_
};

void define_metrics();  // _PG_init
bool available();       // shared memory exists

void count_at_commit(Counter counter, std::int64_t n = 1) noexcept;
void count_now(Counter counter, std::int64_t n = 1) noexcept;
// `due_later`: pending tasks (of those moved) whose run_at is in the future.
void note_tasks(std::string_view queue, TaskEvent event, std::int64_t n = 1,
                std::int64_t due_later = 0) noexcept;
// A lease holding granted (at commit); `took_over`: an expired holding of
// another owner was still recorded.
inline void note_lease_granted(bool took_over) noexcept {
    count_at_commit(Counter::lease_acquisitions);
    if (took_over) count_at_commit(Counter::lease_takeovers);
}
// Counts a fence rejection when the scope is left by an exception, unless
// passed() was called.
class FenceCheck {
public:
    FenceCheck() = default;
    FenceCheck(const FenceCheck&) = delete;
    FenceCheck& operator=(const FenceCheck&) = delete;
    ~FenceCheck() {
        if (!passed_) count_now(Counter::fence_rejections);
    }
    void passed() noexcept { passed_ = true; }

private:
    bool passed_ = false;
};
// queue_drop: the queue's gauges are zero at commit.
void note_queue_dropped(std::string_view queue) noexcept;
// The sweep: when it ran and how long it took (microseconds).
void note_sweep(Micros started_at, Micros duration, bool failed) noexcept;

// ---- reading (metrics_functions.cpp) and the count (metrics_sweep.cpp) ----

inline constexpr int kTaskCounters = 5;  // enqueued, completed, failed, dead, cancelled
inline constexpr int kTaskGauges = 6;    // pending, later, processing, complete, dead, cancelled
inline constexpr const char* kTaskCounterNames[kTaskCounters] = {"enqueued", "completed", "failed",
                                                                 "dead", "cancelled"};
enum Gauge : int { g_pending, g_later, g_processing, g_complete, g_dead, g_cancelled };

// Every member starts zero/false, also in a plain `Snapshot s;` (a garbage
// gauges_valid made queue_stats skip its count of the tables without the
// preload).
struct QueueSnapshot {
    std::string queue;
    std::int64_t counters[kTaskCounters] = {};
    std::int64_t gauges[kTaskGauges] = {};
};
struct Snapshot {
    std::int64_t counters[static_cast<int>(Counter::count_)] = {};
    Micros last_sweep_at = 0;  // 0: none yet
    Micros last_sweep_duration = 0;
    bool gauges_valid = false;  // for this database, extension and tables
    std::vector<QueueSnapshot> queues;  // this database's
};
// Inside pg_call (reads the catalog for the validity check).
Snapshot read_snapshot();

// The count: whether the gauges must be counted (again) in this database.
bool gauges_need_count();
struct QueueCount {
    std::string queue;
    std::int64_t gauges[kTaskGauges];
};
// Replaces this database's gauges (the caller holds the SHARE locks).
void set_gauges(const std::vector<QueueCount>& counts);
// The sweep's count of pending tasks not yet due, per queue.
void set_later(std::string_view queue, std::int64_t later) noexcept;

}  // namespace coord::pg::metrics
