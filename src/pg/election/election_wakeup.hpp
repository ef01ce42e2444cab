// Waking coord.leader_wait: a small array of condition variables in shared
// memory, one chosen per (database, election) by hash. A transaction that
// starts a term or resigns one wakes the election's condition variable
// when it commits (never before: the waiter must see the change when it
// re-reads); an abort wakes nobody. Two elections may share a condition
// variable: a waiter woken for the other one re-reads and sleeps again.
#pragma once

#include "core/common/time.hpp"
#include "pg/common/guard.hpp"

#include <string_view>

namespace coord::pg {

// _PG_init: the transaction callback (every backend) and, while
// shared_preload_libraries is processed, the shared-memory hooks.
void define_election();

// Raises 55000 unless the condition variables are in shared memory.
void require_leader_wait_available();

// When the current transaction commits, wake the waiters of `election`.
void wake_leader_waiters_at_commit(std::string_view election);

// One wait for a change of `election`, registered before the caller's first
// look so that no wake-up between the look and the sleep is lost.
class LeaderWaitSleep {
public:
    explicit LeaderWaitSleep(std::string_view election);
    ~LeaderWaitSleep();
    LeaderWaitSleep(const LeaderWaitSleep&) = delete;
    LeaderWaitSleep& operator=(const LeaderWaitSleep&) = delete;

    // Sleeps until woken or `until` (server clock); query cancel,
    // statement_timeout and termination raise as usual.
    void sleep_until(Micros until);

private:
    void* condition_;  // ConditionVariable*
};

}  // namespace coord::pg
