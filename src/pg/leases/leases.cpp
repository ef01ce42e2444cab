#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/token_allocator.hpp"
#include "pg/leases/lease_row.hpp"
#include "pg/leases/leases.hpp"
#include "pg/leases/memory_table.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/waiting/waiting.hpp"

namespace coord::pg {

namespace {

// A lease row is changed by compare-and-set: read without a row lock, let
// the core decide, then replace exactly the row version that was read (a
// concurrent writer is waited for; if it committed a change, the call
// re-reads). A busy acquire writes nothing. A fence check share-locks the
// version it read in the same way. The row itself is read and written by
// lease_row.hpp.
constexpr int kMaxCompareAndSetRounds = 100;

// What a decision function returns: its answer, and the row to write (none:
// nothing changes).
template <typename R>
struct LeaseChange {
    R answer;
    std::optional<LeaseRecord> next;
};

[[noreturn]] void throw_kept_changing(std::string_view name) {
    throw Error(sqlstate::serialization_failure, fmt::format("lease \"{}\" kept changing concurrently; retry", name));
}

template <typename Decide>
auto change_lease(Spi& spi, std::string_view name, Decide&& decide) {
    for (int round = 0; round < kMaxCompareAndSetRounds; ++round) {
        LeaseRowRead read(name, LeaseAccess::change);
        const std::optional<LeaseRecord>& current = read.current();
        auto change = decide(current, now_micros());
        if (!change.next) return change.answer;
        if (current ? read.compare_and_set(spi, *change.next) == SetResult::done
                    : insert_first_lease_row(spi, name, *change.next))
            return change.answer;
    }
    throw_kept_changing(name);
}

// A token handed out must survive a crash: the transaction that grants it
// commits synchronously even where the session runs synchronous_commit=off.
void force_synchronous_commit() {
    pg_call([] {
        set_config_option("synchronous_commit", "on", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_LOCAL, true, 0, false);
    });
}

LeaseRecord freed(const LeaseRecord& r) { return LeaseRecord{std::nullopt, r.token, 0, 0}; }

// What a release writes: the lease handed to the first waiter when there is
// one that can take it so (waiting.hpp, "Hand-off"), else a free lease.
LeaseRecord released(const LeaseRecord& current, std::string_view name, Micros now) {
    std::optional<HandoffCandidate> next = first_waiter_of(name);
    // A waiter for a memory holding takes it itself once woken (memory_table.hpp).
    if (!next || waits_for_memory_holding(next->procno)) return freed(current);
    LeaseRecord handed = hand_over(current, next->owner, next->role, now, next->ttl, allocate_token);
    if (!promise_handoff(*next, handed.token)) return freed(current);
    force_synchronous_commit();
    metrics::note_lease_granted(false);
    return handed;
}

}  // namespace

std::optional<LeaseRecord> read_lease(std::string_view name) {
    if (std::optional<LeaseRecord> memory = memory_holding(name)) return memory;
    return read_lease_row(name);
}

std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 const Caller& caller, Micros ttl) {
    note_owner_session(owner);
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        // A name held in memory is busy (memory_table.hpp).
        if (acquire_grants_new_holding(current, now) && !pin_for_durable_grant(name))
            return LeaseChange<std::optional<Token>>{std::nullopt, std::nullopt};
        AcquireDecision d = decide_acquire(current, name, owner, caller, now, ttl, allocate_token);
        if (!d.write_needed()) return LeaseChange<std::optional<Token>>{std::nullopt, std::nullopt};
        if (d.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
        if (d.kind == AcquireDecision::Kind::granted) metrics::note_lease_granted(current && current->owner);
        return LeaseChange<std::optional<Token>>{
            d.token,
            LeaseRecord{std::string(owner), d.token, d.acquired_at, d.expires_at, d.holder_role}};
    });
}

AcquireTry try_acquire_without_waiting(Spi& spi, std::string_view name, std::string_view owner,
                                       const Caller& caller, Micros ttl, bool new_holding_allowed) {
    note_owner_session(owner);
    for (int round = 0; round < kMaxCompareAndSetRounds; ++round) {
        LeaseRowRead read(name, LeaseAccess::change);
        const std::optional<LeaseRecord>& current = read.current();
        Micros now = now_micros();
        if (!new_holding_allowed && acquire_grants_new_holding(current, now)) return {};
        if (acquire_grants_new_holding(current, now) && !pin_for_durable_grant(name))
            return {};  // held in memory (memory_table.hpp)
        AcquireDecision d = decide_acquire(current, name, owner, caller, now, ttl, allocate_token);
        if (!d.write_needed()) return {std::nullopt, current->expires_at};
        if (d.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
        if (d.kind == AcquireDecision::Kind::granted) metrics::note_lease_granted(current && current->owner);
        LeaseRecord next{std::string(owner), d.token, d.acquired_at, d.expires_at, d.holder_role};
        if (!current) {
            FirstInsert first = insert_first_lease_row_without_waiting(spi, name, next);
            if (first == FirstInsert::inserted) return {d.token, std::nullopt};
            if (first == FirstInsert::busy) return {};
            continue;
        }
        switch (read.compare_and_set(spi, next, /*wait=*/false)) {
            case SetResult::done:
                return {d.token, std::nullopt};
            case SetResult::locked:
                return {};  // that transaction's end wakes a waiter
            case SetResult::changed:
                break;
        }
    }
    throw_kept_changing(name);
}

Micros renew(Spi& spi, std::string_view name, Token token, const Caller& caller, Micros ttl) {
    if (std::optional<Micros> memory = memory_renew(name, token, caller, ttl)) return *memory;
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        Micros expires_at = decide_renew(current, name, token, caller, now, ttl);
        if (current && current->owner) note_owner_session(*current->owner);
        LeaseRecord next = *current;
        next.expires_at = expires_at;
        return LeaseChange<Micros>{expires_at, next};
    });
}

bool release(Spi& spi, std::string_view name, Token token, const Caller& caller) {
    if (std::optional<bool> memory = memory_release(name, token, caller)) return *memory;
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        if (!decide_release(current, name, token, caller, now))
            return LeaseChange<bool>{false, std::nullopt};
        if (current->owner) note_owner_session(*current->owner);
        return LeaseChange<bool>{true, released(*current, name, now)};
    });
}

bool force_release(Spi& spi, std::string_view name) {
    if (std::optional<bool> memory = memory_force_release(name)) return *memory;
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        bool was_held = decide_force_release(current, now);
        // An expired holding is cleared too, so coord.leases stops listing it.
        if (!current || !current->owner) return LeaseChange<bool>{false, std::nullopt};
        return LeaseChange<bool>{was_held, released(*current, name, now)};
    });
}

bool return_handed_holding(Spi& spi, std::string_view name, std::string_view owner, Token token) {
    note_lease_touched(name);  // this transaction's end wakes the next waiter
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        if (!current || !current->held_at(now) || current->owner != owner || current->token != token)
            return LeaseChange<bool>{false, std::nullopt};
        return LeaseChange<bool>{true, released(*current, name, now)};
    });
}

void verify_fence(std::string_view name, Token token, const Caller& caller) {
    metrics::FenceCheck fence;  // a rejection (an exception) is counted
    if (memory_verify_fence(name, token, caller)) return fence.passed();  // a memory holding (memory_table.hpp)
    // The share lock can keep a waiter's try from taking an expired lease:
    // this transaction's end wakes it.
    note_lease_touched(name);
    for (int round = 0; round < kMaxCompareAndSetRounds; ++round) {
        LeaseRowRead read(name, LeaseAccess::lock);
        const std::optional<LeaseRecord>& current = read.current();
        // Decided on the locked version: the one a takeover in progress left.
        if (!current || read.share_lock()) {
            check_fence(current, name, token, caller, now_micros());
            return fence.passed();
        }
    }
    throw_kept_changing(name);
}

}  // namespace coord::pg
