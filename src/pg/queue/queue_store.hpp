// Queue rows (coord.queue_state, coord.queue_grants) through SPI.
#pragma once

#include "core/queue/queue.hpp"
#include "pg/common/spi.hpp"

namespace coord::pg {

// What the task functions need of a queue: its creator, whether `role`
// holds a grant of `privilege`, and its settings.
struct QueueInfo {
    QueueAccess access;
    bool paused;
    std::int32_t max_attempts;
    bool notify;
};
std::optional<QueueInfo> load_queue(Spi& spi, std::string_view queue, QueuePrivilege privilege,
                                    Oid role);

// The queue exists (42704) and the caller holds `privilege` on it (42501).
QueueInfo require_queue_use(Spi& spi, std::string_view queue, QueuePrivilege privilege,
                            const Caller& caller, std::string_view action);

// NOTIFY coord_tasks '{"queue": ...}' when the transaction commits.
// PostgreSQL sends one notification per distinct (channel, payload) per
// transaction: at most one per queue, however many tasks became due.
void notify_queue(std::string_view queue);

// Tasks of `queue` became due in this transaction: when it commits, the
// claimers waiting in coord.claim(wait_for) for the queue are woken, and
// with `notify` (the queue's setting) NOTIFY coord_tasks is sent too.
void announce_due(std::string_view queue, bool notify);

// An enqueue of tasks due at `run_at`: when due, waiting claimers are woken
// at commit, and NOTIFY coord_tasks is left to the background worker's
// announce round (claim_waiting.hpp announce_by_worker_at_commit) or, when
// no worker serves this database, sent at commit; when due later, made
// known to the sweep (which announces them when due).
void announce_enqueued(std::string_view queue, bool notify, Micros run_at, Micros now);

}  // namespace coord::pg
