// Lease operations over coord.lease_state: read the row, let the core
// decide, write the decision back as a compare-and-set (the row itself is
// read and written by lease_row.hpp). Shared by the lease SQL
// functions and by every feature that is fenced by a lease.
#pragma once

#include "core/leases/lease.hpp"
#include "pg/common/spi.hpp"

namespace coord::pg {

// The lease's state as this statement sees it, without a lock and without
// the executor (a primary-key index look-up). Needs no SPI connection.
std::optional<LeaseRecord> read_lease(std::string_view name);

// The token when `owner` now holds `name`; nullopt when another owner does.
// 42501 when the same owner's holding belongs to another role (lease.hpp).
std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 const Caller& caller, Micros ttl);

// One try that never waits for another transaction and, unless it takes
// the lease, writes and locks nothing (the waiting path: a busy try must
// leave no trace, not even a transaction id). A name whose first row
// another transaction is inserting is busy. A new holding is taken only if
// `new_holding_allowed`; the holder's own retry extends, unless `own` says
// to keep it as it is (core/leases/lease.hpp, OwnHolding).
struct AcquireTry {
    std::optional<Token> token;      // taken
    std::optional<Micros> retry_at;  // busy: when the current holding expires
};
AcquireTry try_acquire_without_waiting(Spi& spi, std::string_view name, std::string_view owner,
                                       const Caller& caller, Micros ttl, bool new_holding_allowed,
                                       OwnHolding own = OwnHolding::extend);

// A holding of another role: 42501 (lease.hpp), nothing changes.
Micros renew(Spi& spi, std::string_view name, Token token, const Caller& caller, Micros ttl);
bool release(Spi& spi, std::string_view name, Token token, const Caller& caller);
bool force_release(Spi& spi, std::string_view name);

// Releases `name` (handing it to its first waiter, as a release does) if its
// current, unexpired holding is `token` of `owner`: a hand-off nobody took
// (waiting.hpp). False when the holding is another (nothing changes).
bool return_handed_holding(Spi& spi, std::string_view name, std::string_view owner, Token token);

// Raises lease_lost unless `token` is the current, unexpired holding of
// `name`, and 42501 when that holding is another role's. Keeps a share lock on the lease row until the transaction ends (a
// takeover waits until the fenced write commits), and waits for a change of
// the lease in progress before it decides. Needs no SPI connection.
void verify_fence(std::string_view name, Token token, const Caller& caller);

}  // namespace coord::pg
