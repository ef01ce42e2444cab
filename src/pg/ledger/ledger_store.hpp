// coord.ledger_entries and the fence checks of ledger writes: reads,
// inserts and settles, each decided by the rules in core/ledger.hpp.
#pragma once

#include "core/ledger/ledger.hpp"
#include "pg/common/spi.hpp"

namespace coord::pg {

struct PostResult {
    std::int64_t entry_id = 0;
    bool inserted = false;
    std::string status;
};

// coord.ledger_post: the stored entry for a replay of its key (after the
// fence check, without a lock: nothing is written), or a new pending entry
// inserted after verify_fence (its share lock makes a takeover wait until
// this transaction ends). Runs no SQL unless the table may not be written
// directly (direct_write.hpp). PC001 for a stale fence; PC002 for a key
// reused with another request; 42501 for a fence held by another role, or a
// replay of an entry `caller` may not read. New entries are posted by the
// caller's role.
PostResult post_entry(const PostRequest& request, const std::optional<Fence>& fence,
                      const Caller& caller);

// coord.ledger_settle: true when the entry moved from pending; 42501 for
// another role's entry or fence.
bool settle_entry(Spi& spi, std::int64_t entry_id, EntryStatus status,
                  std::optional<std::string_view> external_ref, const std::optional<Fence>& fence,
                  const Caller& caller);

}  // namespace coord::pg
