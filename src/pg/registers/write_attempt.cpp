#include "pg/registers/write_attempt.hpp"

#include "pg/common/lock_wait.hpp"
#include "pg/common/subtransaction.hpp"

namespace coord::pg {

bool attempt_write(const std::function<bool()>& attempt) {
    SubTransaction sub;  // an exception unwinding rolls it back
    bool wrote = attempt();
    if (wrote)
        sub.commit();
    else
        sub.rollback();
    return wrote;
}

WriteOutcome attempt_write_without_waiting(const std::function<bool()>& attempt) {
    bool wrote = false;
    if (!with_lock_wait_limit(kShortestLockWait, [&] { wrote = attempt_write(attempt); }))
        return WriteOutcome::busy;
    return wrote ? WriteOutcome::wrote : WriteOutcome::lost;
}

}  // namespace coord::pg
