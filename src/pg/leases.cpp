#include "core/error.hpp"
#include "pg/leases.hpp"
#include "pg/datum.hpp"

namespace coord::pg {

namespace {

std::optional<LeaseRecord> record_from(const std::optional<Row>& row) {
    if (!row) return std::nullopt;
    LeaseRecord record;
    record.owner = row->get_text(1);
    record.token = row->get_int64(2).value_or(0);
    record.acquired_at = row->get_timestamptz(3).value_or(0);
    record.expires_at = row->get_timestamptz(4).value_or(0);
    return record;
}

void write_holding(Spi& spi, std::string_view name, std::optional<std::string_view> owner,
                   Token token, std::optional<Micros> acquired_at,
                   std::optional<Micros> expires_at) {
    static Statement update(
        "UPDATE coord.lease_state SET owner = $2, token = $3, acquired_at = $4, expires_at = $5 "
        "WHERE name = $1",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID});
    spi.run(update, {text_param(name), text_param(owner), int64_param(token),
                     timestamptz_param(acquired_at), timestamptz_param(expires_at)});
}

// A token handed out must survive a crash: the transaction that grants it
// commits synchronously even where the session runs synchronous_commit=off.
void force_synchronous_commit() {
    pg_call([] {
        set_config_option("synchronous_commit", "on", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_LOCAL, true, 0, false);
    });
}

}  // namespace

std::optional<LeaseRecord> load_lease(Spi& spi, std::string_view name, RowLock lock) {
    static Statement for_update(
        "SELECT owner, token, acquired_at, expires_at FROM coord.lease_state "
        "WHERE name = $1 FOR NO KEY UPDATE",
        {TEXTOID});
    static Statement for_share(
        "SELECT owner, token, acquired_at, expires_at FROM coord.lease_state "
        "WHERE name = $1 FOR SHARE",
        {TEXTOID});
    spi.run(lock == RowLock::update ? for_update : for_share, {text_param(name)});
    return record_from(spi.first_row());
}

std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 Micros ttl) {
    static Statement insert_new(
        "INSERT INTO coord.lease_state (name, owner, token, acquired_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID});
    // Two rounds at most: a name seen for the first time may be inserted by a
    // concurrent acquirer between our read and our insert.
    for (int round = 0; round < 2; ++round) {
        std::optional<LeaseRecord> current = load_lease(spi, name, RowLock::update);
        Micros now = now_micros();
        AcquireDecision decision = decide_acquire(current, owner, now, ttl);
        if (!decision.write_needed()) return std::nullopt;
        if (decision.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
        if (current) {
            write_holding(spi, name, owner, decision.token, decision.acquired_at,
                          decision.expires_at);
            return decision.token;
        }
        if (spi.run(insert_new, {text_param(name), text_param(owner), int64_param(decision.token),
                                 timestamptz_param(decision.acquired_at),
                                 timestamptz_param(decision.expires_at)}) == 1)
            return decision.token;
    }
    throw Error(sqlstate::internal_error,
                fmt::format("lease \"{}\" could not be read after a concurrent insert", name));
}

Micros renew(Spi& spi, std::string_view name, Token token, Micros ttl) {
    std::optional<LeaseRecord> current = load_lease(spi, name, RowLock::update);
    Micros expires_at = decide_renew(current, name, token, now_micros(), ttl);
    write_holding(spi, name, *current->owner, token, current->acquired_at, expires_at);
    return expires_at;
}

bool release(Spi& spi, std::string_view name, Token token) {
    std::optional<LeaseRecord> current = load_lease(spi, name, RowLock::update);
    if (!decide_release(current, token, now_micros())) return false;
    write_holding(spi, name, std::nullopt, current->token, std::nullopt, std::nullopt);
    return true;
}

bool force_release(Spi& spi, std::string_view name) {
    std::optional<LeaseRecord> current = load_lease(spi, name, RowLock::update);
    bool was_held = decide_force_release(current, now_micros());
    if (current && current->owner)
        write_holding(spi, name, std::nullopt, current->token, std::nullopt, std::nullopt);
    return was_held;
}

void verify_fence(Spi& spi, std::string_view name, Token token) {
    check_fence(load_lease(spi, name, RowLock::share), name, token, now_micros());
}

}  // namespace coord::pg
