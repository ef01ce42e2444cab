// Memory leases: holdings kept in a shared-memory hash table instead of
// coord.lease_state (coord.acquire(..., durable => false)). The rules are in
// core/leases/memory_lease.hpp; README, "Memory leases", says what the mode
// guarantees.
//
// Layout: one ShmemInitHash keyed by (database oid, lease name), sized by
// coord.memory_leases (PGC_POSTMASTER) plus room for entries that only pin a
// name; 64 LWLock partitions by the key's hash. Nothing under a partition
// lock can raise: entries are copied out, decided on without the lock (the
// core's decisions may look up roles), and written back as a
// compare-and-set on the entry's version.
//
// A memory holding writes no WAL and assigns no transaction id: its token
// comes from a block of 1 024 counter values of the one allocator reserved
// ahead (durable, one WAL flush per block) and handed out from shared memory
// in increasing order. Once per block the acquire that finds it used up
// reserves the next one (its transaction then gets an xid). After a crash or
// restart the block is gone and the next one starts above every value ever
// reserved, so every later token is larger than every earlier one.
//
// The durable row: a memory acquire is busy while coord.lease_state holds the
// name live, and its token is larger than the row's. The entry remembers
// what the last read found (free, its token) until a durable grant of the
// name begins: every durable grant calls pin_for_durable_grant first, which
// clears it. So a name acquired and released in memory again and again reads
// the row once. Entries that only remember a row stay until the table is
// full; then every entry without a live holding or a pin is removed at once.
//
// Pins: a fence check pins the entry with its virtual transaction id until
// the transaction ends (an xact callback unpins); a new holding of the name,
// of either kind, waits for every other pinning transaction first. A durable
// acquire pins the name while it decides (only counted: any number of
// transactions at once, never 53400), so a memory acquire
// meanwhile is busy.
#pragma once

#include "core/leases/memory_lease.hpp"
#include "pg/common/guard.hpp"
#include "pg/waiting/waiting.hpp"

#include <functional>
#include <vector>

namespace coord::pg {

// _PG_init: the GUC coord.memory_leases, shared memory, the xact callback.
void define_memory_leases();

// Shared memory exists (pg_coord in shared_preload_libraries).
bool memory_leases_available();
// 55000 naming shared_preload_libraries unless available.
void require_memory_leases();

// The token when `owner` now holds `name` in memory; nullopt when the name is
// held (by another owner, or durably by anyone). 53400 past capacity.
std::optional<Token> memory_acquire(std::string_view name, std::string_view owner,
                                    const Caller& caller, Micros ttl);

// acquire_all(..., durable => false): one try at taking every name of
// `names` (sorted, distinct) in memory for `owner`, all or nothing, never
// waiting for a holder. A name is busy as for memory_acquire, and also when
// new_holding_allowed(name) is false and `owner` does not already hold it.
// Every name is decided on before any token is taken, so a refused set
// uses up no token; the holdings are written at once under the partitions'
// locks (nobody sees part of the set held). 42501 for a name the owner
// holds under another role; 53400 past capacity: nothing changes then.
AcquireAttempt memory_acquire_all(const std::vector<std::string>& names, std::string_view owner,
                                  const Caller& caller, Micros ttl,
                                  const std::function<bool(std::string_view)>& new_holding_allowed);

// Waiting (wait_for > 0) for memory holdings goes through waiting.hpp: the
// same queue (FIFO across both kinds), wake-ups and wait-for graph (which
// finds a memory holder through read_lease). A waiter is never handed a
// holding: a memory release takes effect at once and wakes the first waiter
// when its transaction ends, and until then a newcomer of either kind does
// not take the name (someone_waits_for); the woken waiter takes it itself
// (memory_acquire_all). While a backend waits for memory holdings, a durable
// release hands it nothing either (it would get a durable holding): leases.cpp
// asks waits_for_memory_holding(candidate's procno).
class MemoryWait {
public:
    MemoryWait();
    ~MemoryWait();
    MemoryWait(const MemoryWait&) = delete;
    MemoryWait& operator=(const MemoryWait&) = delete;
};
bool waits_for_memory_holding(int procno);
// Ends the holding of names[k] if it is still tokens[k] (0: skip), whoever
// asks: a wait's grant given back when the wait fails after it.
void memory_give_back(const std::vector<std::string>& names, const std::vector<Token>& tokens);

// The memory holding of `name` (live or expired), nullopt when the name has
// none: the lease functions then act on the durable row.
std::optional<LeaseRecord> memory_holding(std::string_view name);

// As renew/release/force_release/verify_fence of leases.hpp, on the memory
// holding. nullopt: the name has no memory holding (use the durable path).
std::optional<Micros> memory_renew(std::string_view name, Token token, const Caller& caller,
                                   Micros ttl);
std::optional<bool> memory_release(std::string_view name, Token token, const Caller& caller);
std::optional<bool> memory_force_release(std::string_view name);
// true when decided on a memory holding (and pinned until the transaction ends).
bool memory_verify_fence(std::string_view name, Token token, const Caller& caller);

// A durable acquire of `name`: false when a live memory holding has it (the
// acquire is busy); otherwise pins the name for this transaction (waiting
// first for the transactions that fenced with an ended memory holding) and
// returns true. Always true without shared memory.
bool pin_for_durable_grant(std::string_view name);

// Every memory holding of this database, for coord.leases.
struct MemoryListing {
    std::string name;
    LeaseRecord holding;
};
std::vector<MemoryListing> memory_holdings_of_database();

}  // namespace coord::pg
