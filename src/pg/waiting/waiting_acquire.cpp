// One non-blocking try at taking a set of leases, all or nothing, for the
// waiting path (coord.acquire with wait_for, coord.acquire_all) and for a
// newcomer while others are queued. Kept apart from leases.cpp: it locks
// the rows with SKIP LOCKED inside a subtransaction and writes them through
// SQL (lease_row.hpp's).
#include "core/common/error.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/subtransaction.hpp"
#include "pg/common/token_allocator.hpp"
#include "pg/leases/memory_table.hpp"
#include "pg/leases/lease_row.hpp"
#include "pg/leases/leases.hpp"
#include "pg/waiting/waiting.hpp"

namespace coord::pg {

namespace {

// A token handed out must survive a crash (as in leases.cpp).
void force_synchronous_commit() {
    pg_call([] {
        set_config_option("synchronous_commit", "on", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_LOCAL, true, 0, false);
    });
}


struct OneTry {
    std::optional<Token> token;
    std::optional<Micros> retry_at;
};

OneTry try_one_now(Spi& spi, std::string_view name, std::string_view owner, const Caller& caller,
                   Micros ttl, bool new_holding_allowed, OwnHolding own) {
    // The row is read and written by lease_row.hpp.
    std::optional<LeaseRecord> current = lock_lease_row_skip_locked(spi, name);
    Micros now = now_micros();
    if (!current) {
        std::optional<LeaseRecord> seen = peek_lease_row(spi, name);
        if (seen) {
            // Another transaction has the row locked; its end wakes us.
            OneTry busy;
            if (seen->held_at(now) && *seen->owner != owner) busy.retry_at = seen->expires_at;
            return busy;
        }
        if (!new_holding_allowed) return {};
        if (!pin_for_durable_grant(name)) return {};  // held in memory (memory_table.hpp)
        AcquireDecision first =
            decide_acquire(std::nullopt, name, owner, caller, now, ttl, allocate_token);
        force_synchronous_commit();
        // Another transaction inserting the name's first row makes it busy
        // (its acquire's end wakes us).
        FirstInsert inserted = insert_first_lease_row_without_waiting(
            spi, name,
            LeaseRecord{std::string(owner), first.token, first.acquired_at, first.expires_at,
                        first.holder_role});
        if (inserted == FirstInsert::busy) return {};
        if (inserted == FirstInsert::inserted) {
            note_lease_touched(name);
            return {first.token, std::nullopt};
        }
        return {std::nullopt, now};  // inserted concurrently just now: look again
    }
    note_lease_touched(name);
    if (!new_holding_allowed && acquire_grants_new_holding(current, now)) return {};
    if (acquire_grants_new_holding(current, now) && !pin_for_durable_grant(name))
        return {};  // held in memory (memory_table.hpp)
    AcquireDecision decision = decide_acquire(current, name, owner, caller, now, ttl, allocate_token);
    if (!decision.write_needed()) return {std::nullopt, current->expires_at};
    if (decision.kind == AcquireDecision::Kind::extended && own == OwnHolding::keep)
        return {decision.token, std::nullopt};  // core/leases/lease.hpp, OwnHolding
    if (decision.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
    write_locked_lease_row(
        spi, name,
        LeaseRecord{std::string(owner), decision.token, decision.acquired_at, decision.expires_at,
                    decision.holder_role});
    return {decision.token, std::nullopt};
}

}  // namespace

AcquireAttempt try_acquire_all_now(Spi& spi, const std::vector<std::string>& names,
                                   std::string_view owner, const Caller& caller, Micros ttl,
                                   const std::function<bool(std::string_view)>& new_holding_allowed,
                                   OwnHolding own) {
    note_owner_session(owner);
    AcquireAttempt result;
    SubTransaction sub;
    for (const std::string& name : names) {
        OneTry t = try_one_now(spi, name, owner, caller, ttl, new_holding_allowed(name), own);
        if (!t.token) {
            if (t.retry_at && (!result.retry_at || *t.retry_at < *result.retry_at))
                result.retry_at = t.retry_at;
            sub.rollback();
            result.tokens.clear();
            return result;
        }
        result.tokens.push_back(*t.token);
    }
    sub.commit();
    result.granted = true;
    return result;
}

}  // namespace coord::pg
