// One non-blocking try at taking a set of leases, all or nothing, for the
// waiting path (coord.acquire with wait_for, coord.acquire_all) and for a
// newcomer while others are queued. Kept apart from leases.cpp: it locks
// the rows with SKIP LOCKED inside a subtransaction and writes them itself.
#include "core/common/error.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/token_allocator.hpp"
#include "pg/leases/leases.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "utils/resowner.h"
}

namespace coord::pg {

namespace {

// The row is locked by this transaction (FOR NO KEY UPDATE): a plain write.
void write_holding(Spi& spi, std::string_view name, std::string_view owner, Token token,
                   Micros acquired_at, Micros expires_at) {
    static Statement update(
        "UPDATE coord.lease_state SET owner = $2, token = $3, acquired_at = $4, expires_at = $5 "
        "WHERE name = $1",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID});
    spi.run(update, {text_param(name), text_param(owner), int64_param(token),
                     timestamptz_param(acquired_at), timestamptz_param(expires_at)});
}

// A token handed out must survive a crash (as in leases.cpp).
void force_synchronous_commit() {
    pg_call([] {
        set_config_option("synchronous_commit", "on", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_LOCAL, true, 0, false);
    });
}


// An internal subtransaction around one try (as PL/pgSQL's exception
// blocks): rolled back, it releases the row locks taken inside it.
class SubTransaction {
public:
    SubTransaction() : context_(CurrentMemoryContext), owner_(CurrentResourceOwner) {
        pg_call([&] {
            BeginInternalSubTransaction(nullptr);
            MemoryContextSwitchTo(context_);
        });
    }
    SubTransaction(const SubTransaction&) = delete;
    SubTransaction& operator=(const SubTransaction&) = delete;
    ~SubTransaction() {
        if (open_) rollback_quietly();
    }
    void commit() {
        open_ = false;
        pg_call([&] {
            ReleaseCurrentSubTransaction();
            MemoryContextSwitchTo(context_);
            CurrentResourceOwner = owner_;
        });
    }
    void rollback() {
        open_ = false;
        pg_call([&] {
            RollbackAndReleaseCurrentSubTransaction();
            MemoryContextSwitchTo(context_);
            CurrentResourceOwner = owner_;
        });
    }

private:
    // While an exception unwinds: the error state was already copied and
    // flushed by pg_call, so rolling back here is what PL/pgSQL does in its
    // exception handler. A failure now leaves the top-level abort to clean up.
    void rollback_quietly() noexcept {
        open_ = false;
        try {
            rollback();
        } catch (...) {
        }
    }
    MemoryContext context_;
    ResourceOwner owner_;
    bool open_ = true;
};

struct OneTry {
    std::optional<Token> token;
    std::optional<Micros> retry_at;
};

OneTry try_one_now(Spi& spi, std::string_view name, std::string_view owner, Micros ttl,
                   bool new_holding_allowed) {
    static Statement lock_skip(
        "SELECT owner, token, acquired_at, expires_at FROM coord.lease_state "
        "WHERE name = $1 FOR NO KEY UPDATE SKIP LOCKED",
        {TEXTOID});
    static Statement peek(
        "SELECT owner, token, acquired_at, expires_at FROM coord.lease_state WHERE name = $1",
        {TEXTOID});
    static Statement insert_new(
        "INSERT INTO coord.lease_state (name, owner, token, acquired_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID});
    spi.run(lock_skip, {text_param(name)});
    std::optional<LeaseRecord> current = lease_from_row(spi.first_row());
    Micros now = now_micros();
    if (!current) {
        spi.run(peek, {text_param(name)});
        std::optional<LeaseRecord> seen = lease_from_row(spi.first_row());
        if (seen) {
            // Another transaction has the row locked; its end wakes us.
            OneTry busy;
            if (seen->held_at(now) && *seen->owner != owner) busy.retry_at = seen->expires_at;
            return busy;
        }
        if (!new_holding_allowed) return {};
        AcquireDecision first = decide_acquire(std::nullopt, owner, now, ttl, allocate_token);
        force_synchronous_commit();
        if (spi.run(insert_new, {text_param(name), text_param(owner), int64_param(first.token),
                                 timestamptz_param(first.acquired_at),
                                 timestamptz_param(first.expires_at)}) == 1) {
            note_lease_touched(name);
            return {first.token, std::nullopt};
        }
        return {std::nullopt, now};  // inserted concurrently just now: look again
    }
    note_lease_touched(name);
    if (!new_holding_allowed && acquire_grants_new_holding(current, now)) return {};
    AcquireDecision decision = decide_acquire(current, owner, now, ttl, allocate_token);
    if (!decision.write_needed()) return {std::nullopt, current->expires_at};
    if (decision.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
    write_holding(spi, name, owner, decision.token, decision.acquired_at, decision.expires_at);
    return {decision.token, std::nullopt};
}

}  // namespace

AcquireAttempt try_acquire_all_now(Spi& spi, const std::vector<std::string>& names,
                                   std::string_view owner, Micros ttl,
                                   const std::function<bool(std::string_view)>& new_holding_allowed) {
    AcquireAttempt result;
    SubTransaction sub;
    for (const std::string& name : names) {
        OneTry t = try_one_now(spi, name, owner, ttl, new_holding_allowed(name));
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
