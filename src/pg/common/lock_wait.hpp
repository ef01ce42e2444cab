// A bounded wait for locks: run a piece of work that may have to wait for a
// heavyweight lock another transaction holds (a table, a row, the end of
// another transaction's insert of the same key), and give up cleanly when
// that wait runs out, instead of failing the caller or blocking it for as
// long as the other transaction stays open.
#pragma once

#include "core/common/time.hpp"
#include "pg/common/guard.hpp"

#include <functional>

namespace coord::pg {

// The shortest lock wait PostgreSQL can bound (lock_timeout counts whole
// milliseconds): for work that must not wait at all.
inline constexpr Micros kShortestLockWait = 1000;

// Runs `body` in a subtransaction with lock_timeout set to `limit` (or to
// the session's own lock_timeout, when that is shorter). True when body ran
// to its end: what it did (and the locks it took) now belongs to the
// enclosing transaction. False when one of its lock waits ran out (55P03):
// the subtransaction is rolled back, with everything body did in it. Any
// other error is raised as usual, after the rollback.
bool with_lock_wait_limit(Micros limit, const std::function<void()>& body);

}  // namespace coord::pg
