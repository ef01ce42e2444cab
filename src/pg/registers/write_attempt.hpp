// One compare-and-set write that may lose a race, without keeping a lock
// when it loses. An UPDATE ... WHERE version = $seen that finds the row
// changed by a transaction that committed meanwhile re-checks the newest
// version (EvalPlanQual, READ COMMITTED) and locks it even when it then does
// not qualify; that lock would last until the caller's transaction ends and
// hold up the next writer. So the attempt runs in a subtransaction (the
// shared SubTransaction, pg/common/subtransaction.hpp): kept when it wrote,
// rolled back (its lock with it) when it did not.
#pragma once

#include <functional>

namespace coord::pg {

// Runs `attempt` (SPI statements through an Spi connected outside) in its
// own subtransaction. True: it wrote, the subtransaction is released into
// the caller's. False: rolled back. An exception rolls it back and is
// rethrown.
bool attempt_write(const std::function<bool()>& attempt);

enum class WriteOutcome { wrote, lost, busy };

// attempt_write that does not wait for another transaction's change of the
// row: `busy` when a lock wait would have been needed (nothing written, no
// lock kept). A row lock that waits follows the row's update chain, so after
// the change it waited for it would also wait for the whole transaction of
// whichever writer came next; the caller instead waits for the one writer it
// sees (wait_for_auction_writer) and decides again.
WriteOutcome attempt_write_without_waiting(const std::function<bool()>& attempt);

}  // namespace coord::pg
