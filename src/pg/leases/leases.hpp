// Lease operations over coord.lease_state: read the row, let the core
// decide, write the decision back as a compare-and-set. Shared by the lease SQL
// functions and by every feature that is fenced by a lease.
#pragma once

#include "core/leases/lease.hpp"
#include "pg/common/spi.hpp"

namespace coord::pg {

// A lease from a row of (owner, token, acquired_at, expires_at).
std::optional<LeaseRecord> lease_from_row(const std::optional<Row>& row);

// The lease's state as this statement sees it, without a lock and without
// the executor (a primary-key index look-up). Needs no SPI connection.
std::optional<LeaseRecord> read_lease(std::string_view name);

// True when another transaction, still in progress, is inserting the first
// row of `name` (its first acquire of the name has not committed yet). The
// waiting path counts the name as busy then, instead of waiting in its own
// insert. Needs no SPI connection.
bool lease_insert_in_progress(std::string_view name);

// The token when `owner` now holds `name`; nullopt when another owner does.
std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 Micros ttl);

// One try that never waits for another transaction and, unless it takes
// the lease, writes and locks nothing (the waiting path: a busy try must
// leave no trace, not even a transaction id). A name whose first row
// another transaction is inserting is busy. A new holding is taken only if
// `new_holding_allowed`; the holder's own retry always extends.
struct AcquireTry {
    std::optional<Token> token;      // taken
    std::optional<Micros> retry_at;  // busy: when the current holding expires
};
AcquireTry try_acquire_without_waiting(Spi& spi, std::string_view name, std::string_view owner,
                                       Micros ttl, bool new_holding_allowed);

Micros renew(Spi& spi, std::string_view name, Token token, Micros ttl);
bool release(Spi& spi, std::string_view name, Token token);
bool force_release(Spi& spi, std::string_view name);

// Raises lease_lost unless `token` is the current, unexpired holding of
// `name`. Keeps a share lock on the lease row until the transaction ends (a
// takeover waits until the fenced write commits), and waits for a change of
// the lease in progress before it decides. Needs no SPI connection.
void verify_fence(std::string_view name, Token token);

}  // namespace coord::pg
