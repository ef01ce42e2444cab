// Index probes of a queue's pending tasks (tasks_due: queue, priority DESC,
// run_at, id): a few look-ups per priority in use, never a walk over the
// backlog. Plain statements, so that no plan is costly enough for JIT.
#pragma once

#include "core/common/time.hpp"
#include "pg/common/spi.hpp"

#include <string_view>
#include <vector>

namespace coord::pg::metrics {

// The priorities of the queue's pending tasks, highest first.
std::vector<std::int32_t> pending_priorities(Spi& spi, std::string_view queue);
// Pending tasks with run_at after `now` (counted up to `limit` per priority).
std::int64_t pending_later(Spi& spi, std::string_view queue, const std::vector<std::int32_t>& priorities,
                           Micros now, std::int64_t limit);
// The earliest run_at of a due pending task (none: nullopt).
std::optional<Micros> oldest_due(Spi& spi, std::string_view queue, const std::vector<std::int32_t>& priorities,
                                 Micros now);

}  // namespace coord::pg::metrics
