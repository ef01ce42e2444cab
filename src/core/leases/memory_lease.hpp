// Memory leases: the rules of the shared-memory lease table (the glue is
// src/pg/leases/memory_table). A memory holding is a LeaseRecord kept in
// shared memory instead of coord.lease_state; acquire, renew, release and
// fence decide on it with the same functions as a durable holding
// (lease.hpp). What is particular to memory holdings is here:
//  - a name is free, held durably or held in memory: the other kind on a
//    held name is busy;
//  - an entry pinned by a running transaction (a fence check, or a durable
//    acquire deciding on the name) keeps its holding from a takeover until
//    that transaction ends;
//  - an entry with neither a live holding nor a pin is reclaimable: it is
//    removed where it is found (no sweep);
//  - capacity: live holdings beyond coord.memory_leases get 53400.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/leases/lease.hpp"

#include <cstddef>

namespace coord {

// The last token a name had, of either kind: a new holding's token is larger.
Token last_token_of(const std::optional<LeaseRecord>& memory,
                    const std::optional<LeaseRecord>& durable);

// A memory acquire of `name`: busy when the durable row holds it live (or a
// durable grant is being decided: `durable_pending`), else as decide_acquire
// on the memory entry, with a new token larger than both kinds' last tokens.
AcquireDecision decide_memory_acquire(const std::optional<LeaseRecord>& memory,
                                      const std::optional<LeaseRecord>& durable,
                                      bool durable_pending, std::string_view name,
                                      std::string_view owner, const Caller& caller, Micros now,
                                      Micros ttl, const TokenSource& new_token);

// A durable acquire must treat the name as held while a live memory holding
// has it.
bool memory_holding_blocks_durable(const std::optional<LeaseRecord>& memory, Micros now);

// An entry may be removed (its slot reused) when it has no live holding and
// no running transaction pins it. Its last token is not needed afterwards:
// memory tokens come from one counter that only grows while the server runs,
// and after a restart from a block above every earlier one.
bool memory_entry_reclaimable(const LeaseRecord& entry, Micros now, int live_pins);

// `wanted` new live holdings (acquire_all: one per name not yet held) when
// `live_holdings` already exist: 53400 (with a hint naming
// coord.memory_leases) past `capacity`.
void require_memory_capacity(std::size_t live_holdings, std::size_t capacity,
                             std::size_t wanted = 1);

// How many running transactions that fenced with the holding one entry keeps
// at once; one more gets 53400. (Transactions deciding a durable acquire of
// the name are only counted: any number of them at once.)
inline constexpr int kMaxMemoryPins = 8;
void require_pin_slot(int pins, std::string_view name);

// Tokens handed out from a block reserved durably from the one allocator's
// counter: (start, end] where end is on disk before the first token of the
// block is used, so after a crash the next block (reserved above the
// counter's durable value) starts above every token handed out before.
struct TokenBlock {
    std::int64_t next = 0;  // last counter value handed out
    std::int64_t end = 0;   // last counter value reserved
    bool empty() const { return next >= end; }
};
// The block reserved when the counter's durable value is `counter_value`.
TokenBlock reserve_block(std::int64_t counter_value, std::int64_t block_size);
// The next counter value (the block must not be empty).
std::int64_t take_from_block(TokenBlock& block);

}  // namespace coord
