// coord.complete's hot path: the task row moves from coord.tasks to
// coord.tasks_complete through the primary-key index and heap operations,
// without an executor plan (planning, starting and ending the SPI statement
// cost more than the move itself; see bench/queue/run).
#pragma once

#include "core/common/time.hpp"
#include "pg/common/pg_headers.hpp"

namespace coord::pg {

enum class TaskMove {
    moved,        // the task was processing under the token; it is in coord.tasks_complete now
    not_current,  // not processing under that token by `role` (or not in coord.tasks): nothing written
    needs_sql,    // a table may not be written directly (direct_write.hpp): nothing written
};

// Deletes the task's row version if it is processing under `token`, claimed
// by `role` (a compare-and-set: a concurrent change is waited for and the
// row read again, as DELETE ... WHERE state = 'processing' AND token = $2
// AND claimed_by = $3 does) and inserts its completed record with `result`
// (jsonb, may be absent) and completed_at = now.
TaskMove move_completed_task(std::int64_t task_id, std::int64_t token, Oid role,
                             std::optional<Datum> result, Micros now);

}  // namespace coord::pg
