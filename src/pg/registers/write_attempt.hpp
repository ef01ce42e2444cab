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
#include <string_view>

namespace coord::pg {

enum class CoordRelation;  // pg/common/coord_relations.hpp

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
// sees (KeyedRow::wait_for_writer) and decides again.
WriteOutcome attempt_write_without_waiting(const std::function<bool()>& attempt);

// The row of a table with a one-text-column primary key (an auction, a
// register), as the compare-and-set writes see it.
struct KeyedRow {
    CoordRelation table;
    CoordRelation primary_key;
    std::string_view key;

    // Waits for the transaction, other than this one, that is changing the
    // row (dirty look-up through the primary key, then that xid only), if
    // any. True when there was one: a write decided against the committed
    // row must then be decided again.
    bool wait_for_writer() const;

    // One write decided against what the caller read: true when it wrote;
    // false when it must be decided again (the row changed meanwhile, or
    // another transaction was changing it: that one has ended by now). It
    // waits only when the write would have to (the committed row still
    // qualifies and another transaction is changing it), and then for that
    // one writer, never along the update chain. A write whose condition the
    // committed row already fails returns at once.
    bool write(const std::function<bool()>& attempt) const;
};

}  // namespace coord::pg
