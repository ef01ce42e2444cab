#include "core/error.hpp"
#include "core/validate.hpp"
#include "pg/leases.hpp"
#include "pg/datum.hpp"
#include "pg/index_lookup.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

namespace coord::pg {

namespace {

// A lease row is changed by compare-and-set: read without a lock, let the
// core decide, then write only if the row is still exactly what was read.
// A lost race (another session changed the row in between) re-reads. The
// read takes no row lock, so a busy acquire writes nothing at all.
constexpr int kMaxCompareAndSetRounds = 100;

// The lease row as plain data, so that it can leave pg_call (see guard.hpp).
struct RawLeaseRow {
    bool found;
    bool free;
    char owner[kMaxOwnerBytes + 1];
    std::size_t owner_length;
    Token token;
    Micros acquired_at;
    Micros expires_at;
};

// Reads a lease row through the primary-key index without the executor:
// acquire and release read before every compare-and-set, and an SPI SELECT
// costs more than the rest of the call. The snapshot is the statement's
// (fresh under READ COMMITTED), after a CommandCounterIncrement so that this
// transaction's own earlier lease changes are seen. Column numbers follow
// CREATE TABLE coord.lease_state in extension/sql/10_leases.sql.
RawLeaseRow read_lease_row(std::string_view name) {
    return pg_call([&] {
        RawLeaseRow row{};
        CommandCounterIncrement();
        Oid schema = get_namespace_oid("coord", false);
        Oid table_oid = get_relname_relid("lease_state", schema);
        Oid index_oid = get_relname_relid("lease_state_pkey", schema);
        if (!OidIsValid(table_oid) || !OidIsValid(index_oid))
            elog(ERROR, "pg_coord: table coord.lease_state or its primary key is missing");
        Relation table = table_open(table_oid, AccessShareLock);
        text* key_text = cstring_to_text_with_len(name.data(), static_cast<int>(name.size()));
        ScanKeyData key;
        ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(key_text));
        use_index_collations(&key, 1, index_oid);
        Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
        SysScanDesc scan = systable_beginscan(table, index_oid, true, snapshot, 1, &key);
        HeapTuple tuple = systable_getnext(scan);
        if (HeapTupleIsValid(tuple)) {
            TupleDesc desc = RelationGetDescr(table);
            bool isnull = false;
            row.found = true;
            Datum owner = heap_getattr(tuple, 2, desc, &isnull);
            row.free = isnull;
            if (!isnull) {
                text* owner_text = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(owner)));
                row.owner_length = Min(VARSIZE_ANY_EXHDR(owner_text), kMaxOwnerBytes);
                memcpy(row.owner, VARDATA_ANY(owner_text), row.owner_length);
            }
            row.token = DatumGetInt64(heap_getattr(tuple, 3, desc, &isnull));
            Datum acquired_at = heap_getattr(tuple, 4, desc, &isnull);
            row.acquired_at = isnull ? 0 : DatumGetTimestampTz(acquired_at);
            Datum expires_at = heap_getattr(tuple, 5, desc, &isnull);
            row.expires_at = isnull ? 0 : DatumGetTimestampTz(expires_at);
        }
        systable_endscan(scan);
        UnregisterSnapshot(snapshot);
        table_close(table, AccessShareLock);
        return row;
    });
}

std::optional<LeaseRecord> record_from(const RawLeaseRow& row) {
    if (!row.found) return std::nullopt;
    LeaseRecord record;
    if (!row.free) record.owner = std::string(row.owner, row.owner_length);
    record.token = row.token;
    record.acquired_at = row.acquired_at;
    record.expires_at = row.expires_at;
    return record;
}

std::optional<Micros> holding_time(const LeaseRecord& r, Micros t) {
    return r.owner ? std::optional<Micros>(t) : std::nullopt;
}

// Writes `next` if the row still equals `seen`; false when it changed.
bool compare_and_set(Spi& spi, std::string_view name, const LeaseRecord& seen,
                     const LeaseRecord& next) {
    static Statement update(
        "UPDATE coord.lease_state SET owner = $2, token = $3, acquired_at = $4, expires_at = $5 "
        "WHERE name = $1 AND token = $6 AND owner IS NOT DISTINCT FROM $7 "
        "AND expires_at IS NOT DISTINCT FROM $8",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, TEXTOID,
         TIMESTAMPTZOID},
        /*generic_plan=*/true);
    return spi.run(update, {text_param(name), text_param(next.owner), int64_param(next.token),
                            timestamptz_param(holding_time(next, next.acquired_at)),
                            timestamptz_param(holding_time(next, next.expires_at)),
                            int64_param(seen.token), text_param(seen.owner),
                            timestamptz_param(holding_time(seen, seen.expires_at))}) == 1;
}

// Inserts the first row of a name; false when a concurrent session did.
bool insert_first(Spi& spi, std::string_view name, const LeaseRecord& next) {
    static Statement insert(
        "INSERT INTO coord.lease_state (name, owner, token, acquired_at, expires_at) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID}, /*generic_plan=*/true);
    return spi.run(insert, {text_param(name), text_param(next.owner), int64_param(next.token),
                            timestamptz_param(next.acquired_at),
                            timestamptz_param(next.expires_at)}) == 1;
}

// What a decision function returns: its answer, and the row to write (none:
// nothing changes).
template <typename R>
struct LeaseChange {
    R answer;
    std::optional<LeaseRecord> next;
};

template <typename Decide>
auto change_lease(Spi& spi, std::string_view name, Decide&& decide) {
    for (int round = 0; round < kMaxCompareAndSetRounds; ++round) {
        std::optional<LeaseRecord> current = load_lease(spi, name, RowLock::none);
        auto change = decide(current, now_micros());
        if (!change.next) return change.answer;
        if (current ? compare_and_set(spi, name, *current, *change.next)
                    : insert_first(spi, name, *change.next))
            return change.answer;
    }
    throw Error("40001", fmt::format("lease \"{}\" kept changing concurrently; retry", name));
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

}  // namespace

std::optional<LeaseRecord> load_lease(Spi& spi, std::string_view name, RowLock lock) {
    if (lock == RowLock::none) return read_lease(name);
    static Statement for_share(
        "SELECT owner, token, acquired_at, expires_at FROM coord.lease_state "
        "WHERE name = $1 FOR SHARE",
        {TEXTOID}, /*generic_plan=*/true);
    spi.run(for_share, {text_param(name)});
    return lease_from_row(spi.first_row());
}

std::optional<LeaseRecord> lease_from_row(const std::optional<Row>& row) {
    if (!row) return std::nullopt;
    LeaseRecord record;
    record.owner = row->get_text(1);
    record.token = row->get_int64(2).value_or(0);
    record.acquired_at = row->get_timestamptz(3).value_or(0);
    record.expires_at = row->get_timestamptz(4).value_or(0);
    return record;
}

std::optional<LeaseRecord> read_lease(std::string_view name) {
    return record_from(read_lease_row(name));
}

std::optional<Token> try_acquire(Spi& spi, std::string_view name, std::string_view owner,
                                 Micros ttl) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        AcquireDecision d = decide_acquire(current, owner, now, ttl);
        if (!d.write_needed()) return LeaseChange<std::optional<Token>>{std::nullopt, std::nullopt};
        if (d.kind == AcquireDecision::Kind::granted) force_synchronous_commit();
        return LeaseChange<std::optional<Token>>{
            d.token, LeaseRecord{std::string(owner), d.token, d.acquired_at, d.expires_at}};
    });
}

Micros renew(Spi& spi, std::string_view name, Token token, Micros ttl) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        Micros expires_at = decide_renew(current, name, token, now, ttl);
        LeaseRecord next = *current;
        next.expires_at = expires_at;
        return LeaseChange<Micros>{expires_at, next};
    });
}

bool release(Spi& spi, std::string_view name, Token token) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        if (!decide_release(current, token, now)) return LeaseChange<bool>{false, std::nullopt};
        return LeaseChange<bool>{true, freed(*current)};
    });
}

bool force_release(Spi& spi, std::string_view name) {
    return change_lease(spi, name, [&](const std::optional<LeaseRecord>& current, Micros now) {
        bool was_held = decide_force_release(current, now);
        // An expired holding is cleared too, so coord.leases stops listing it.
        if (!current || !current->owner) return LeaseChange<bool>{false, std::nullopt};
        return LeaseChange<bool>{was_held, freed(*current)};
    });
}

void verify_fence(Spi& spi, std::string_view name, Token token) {
    check_fence(load_lease(spi, name, RowLock::share), name, token, now_micros());
}

}  // namespace coord::pg
