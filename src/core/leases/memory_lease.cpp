#include "core/leases/memory_lease.hpp"

#include "core/common/error.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace coord {

Token last_token_of(const std::optional<LeaseRecord>& memory,
                    const std::optional<LeaseRecord>& durable) {
    return std::max(memory ? memory->token : 0, durable ? durable->token : 0);
}

AcquireDecision decide_memory_acquire(const std::optional<LeaseRecord>& memory,
                                      const std::optional<LeaseRecord>& durable,
                                      bool durable_pending, std::string_view name,
                                      std::string_view owner, const Caller& caller, Micros now,
                                      Micros ttl, const TokenSource& new_token) {
    if (durable_pending || (durable && durable->held_at(now)))
        return {AcquireDecision::Kind::busy};
    Token last = last_token_of(memory, durable);
    return decide_acquire(memory, name, owner, caller, now, ttl,
                          [&](Token) { return new_token(last); });
}

bool memory_holding_blocks_durable(const std::optional<LeaseRecord>& memory, Micros now) {
    return memory && memory->held_at(now);
}

bool memory_entry_reclaimable(const LeaseRecord& entry, Micros now, int live_pins) {
    return live_pins == 0 && !entry.held_at(now);
}

void require_memory_capacity(std::size_t live_holdings, std::size_t capacity,
                             std::size_t wanted) {
    std::size_t free_slots = live_holdings < capacity ? capacity - live_holdings : 0;
    if (wanted <= free_slots) return;
    std::string message =
        free_slots == 0 ? fmt::format("all {} memory lease slots are held", capacity)
                        : fmt::format("{} memory leases asked for, {} of {} slots free", wanted,
                                      free_slots, capacity);
    throw Error(sqlstate::configuration_limit_exceeded, message,
                "Every slot of the shared-memory lease table has a live holding; expired "
                "holdings are reclaimed as they are found.",
                "Raise coord.memory_leases (takes effect at the next server start), release "
                "holdings sooner, or take this lease with durable => true.");
}

void require_pin_slot(int pins, std::string_view name) {
    if (pins < kMaxMemoryPins) return;
    throw Error(sqlstate::configuration_limit_exceeded,
                fmt::format("memory lease \"{}\" is fenced by {} transactions at once", name, pins),
                fmt::format("A memory holding keeps at most {} running transactions that "
                            "checked its fence.",
                            kMaxMemoryPins),
                "Retry after one of them ends.");
}

TokenBlock reserve_block(std::int64_t counter_value, std::int64_t block_size) {
    if (block_size <= 0 || counter_value < 0 || counter_value > kMaxTokenCounter)
        throw Error(sqlstate::internal_error, "bad token block request");
    std::int64_t end = std::min(counter_value + block_size, kMaxTokenCounter);
    if (end <= counter_value) throw_token_counter_used_up();
    return TokenBlock{counter_value, end};
}

std::int64_t take_from_block(TokenBlock& block) {
    if (block.empty()) throw Error(sqlstate::internal_error, "token block used up");
    return ++block.next;
}

}  // namespace coord
