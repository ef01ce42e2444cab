// Lease operations over coord.lease_state: load the row under a row lock,
// let the core decide, write the decision back. Shared by the lease SQL
// functions and by every feature that is fenced by a lease.
#pragma once

#include "core/lease.hpp"
#include "pg/spi.hpp"

namespace coord::pg {

enum class RowLock {
    share,   // fence checks: a takeover waits until the fenced write commits
    update,  // acquire, renew, release
};

std::optional<LeaseRecord> load_lease(Spi& spi, std::string_view name, RowLock lock);

// The token when `owner` now holds `name`; nullopt when another owner does.
std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 Micros ttl);

Micros renew(Spi& spi, std::string_view name, Token token, Micros ttl);
bool release(Spi& spi, std::string_view name, Token token);
bool force_release(Spi& spi, std::string_view name);

// Raises lease_lost unless `token` is the current, unexpired holding of
// `name`. Keeps a share lock on the lease row until the transaction ends.
void verify_fence(Spi& spi, std::string_view name, Token token);

}  // namespace coord::pg
