// Lease operations over coord.lease_state: load the row under a row lock,
// let the core decide, write the decision back. Shared by the lease SQL
// functions and by every feature that is fenced by a lease.
#pragma once

#include "core/lease.hpp"
#include "pg/spi.hpp"

#include <functional>
#include <vector>

namespace coord::pg {

enum class RowLock {
    share,   // fence checks: a takeover waits until the fenced write commits
    update,  // acquire, renew, release
};

std::optional<LeaseRecord> load_lease(Spi& spi, std::string_view name, RowLock lock);

// The token when `owner` now holds `name`; nullopt when another owner does.
// With new_holding_allowed = false (others queue for the name: FIFO) only
// the current holder's retry succeeds (same token, later expiry). Waits for
// a concurrent transaction that has the lease row locked.
std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 Micros ttl, bool new_holding_allowed = true);

// One try, never blocking on a row lock, at taking every name of `names`
// (sorted, distinct) for `owner`: all or nothing. It runs in a
// subtransaction, so the row locks of a failed try are released at once
// (a waiter must not hold them while it sleeps). A name is busy when another
// owner holds it, when another transaction has its row locked, or when
// new_holding_allowed(name) is false and `owner` does not already hold it.
struct AcquireAttempt {
    bool granted = false;
    std::vector<Token> tokens;         // one per name, when granted
    std::optional<Micros> retry_at;    // earliest expiry among busy holdings
};
AcquireAttempt try_acquire_all_now(Spi& spi, const std::vector<std::string>& names,
                                   std::string_view owner, Micros ttl,
                                   const std::function<bool(std::string_view)>& new_holding_allowed);

Micros renew(Spi& spi, std::string_view name, Token token, Micros ttl);
bool release(Spi& spi, std::string_view name, Token token);
bool force_release(Spi& spi, std::string_view name);

// Raises lease_lost unless `token` is the current, unexpired holding of
// `name`. Keeps a share lock on the lease row until the transaction ends.
void verify_fence(Spi& spi, std::string_view name, Token token);

}  // namespace coord::pg
