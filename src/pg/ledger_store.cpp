#include "core/error.hpp"
#include "core/lease.hpp"
#include "core/ledger.hpp"
#include "pg/datum.hpp"
#include "pg/leases.hpp"
#include "pg/ledger_store.hpp"
#include "pg/index_lookup.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relation.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

#include <cstring>

namespace coord::pg {

namespace {

// A stored entry as plain data, so that it can leave pg_call (guard.hpp).
struct RawEntry {
    bool found;
    std::int64_t entry_id;
    char cycle_id[kMaxCycleIdBytes + 1];
    std::size_t cycle_id_length;
    char account[kMaxAccountBytes + 1];
    std::size_t account_length;
    char amount[64];
    std::size_t amount_length;
    char currency[8];
    std::size_t currency_length;
    char status[16];
    std::size_t status_length;
};

void copy_text(Datum value, char* out, std::size_t capacity, std::size_t* length) {
    text* t = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(value)));
    *length = Min(VARSIZE_ANY_EXHDR(t), capacity);
    memcpy(out, VARDATA_ANY(t), *length);
}

// Reads the entry of an idempotency key through the unique index, without
// the executor: half of all posts in a rerun are replays, and an SPI SELECT
// costs more than the rest of such a call. The snapshot is fresh under READ
// COMMITTED (after a CommandCounterIncrement, so this transaction's own
// posts are seen). Column numbers follow CREATE TABLE coord.ledger_entries
// in extension/sql/20_ledger.sql.
RawEntry read_entry_by_key(std::string_view key) {
    RawEntry row{};
    RawEntry* out = &row;  // filled through a pointer: pg_call returns scalars only
    pg_call([&] {
        RawEntry& row = *out;
        CommandCounterIncrement();
        Oid schema = get_namespace_oid("coord", false);
        Oid table_oid = get_relname_relid("ledger_entries", schema);
        Oid index_oid = get_relname_relid("ledger_entries_idempotency_key", schema);
        if (!OidIsValid(table_oid) || !OidIsValid(index_oid))
            elog(ERROR, "pg_coord: table coord.ledger_entries or its idempotency key index is missing");
        Relation table = table_open(table_oid, AccessShareLock);
        text* key_text = cstring_to_text_with_len(key.data(), static_cast<int>(key.size()));
        ScanKeyData scan_key;  // systable scans name the heap column (2: idempotency_key)
        ScanKeyInit(&scan_key, 2, BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(key_text));
        use_index_collations(&scan_key, 1, index_oid);
        Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
        SysScanDesc scan = systable_beginscan(table, index_oid, true, snapshot, 1, &scan_key);
        HeapTuple tuple = systable_getnext(scan);
        if (HeapTupleIsValid(tuple)) {
            TupleDesc desc = RelationGetDescr(table);
            bool isnull = false;
            row.found = true;
            row.entry_id = DatumGetInt64(heap_getattr(tuple, 1, desc, &isnull));
            copy_text(heap_getattr(tuple, 3, desc, &isnull), row.cycle_id, kMaxCycleIdBytes,
                      &row.cycle_id_length);
            copy_text(heap_getattr(tuple, 4, desc, &isnull), row.account, kMaxAccountBytes,
                      &row.account_length);
            char* amount = DatumGetCString(
                DirectFunctionCall1(numeric_out, heap_getattr(tuple, 5, desc, &isnull)));
            row.amount_length = Min(strlen(amount), sizeof(row.amount) - 1);
            memcpy(row.amount, amount, row.amount_length);
            copy_text(heap_getattr(tuple, 6, desc, &isnull), row.currency,
                      sizeof(row.currency) - 1, &row.currency_length);
            copy_text(heap_getattr(tuple, 7, desc, &isnull), row.status, sizeof(row.status) - 1,
                      &row.status_length);
        }
        systable_endscan(scan);
        UnregisterSnapshot(snapshot);
        table_close(table, AccessShareLock);
    });
    return row;
}

struct FoundEntry {
    StoredEntry entry;
    std::string status;
};

std::optional<FoundEntry> find_entry(std::string_view key) {
    RawEntry raw = read_entry_by_key(key);
    if (!raw.found) return std::nullopt;
    FoundEntry f;
    f.entry.entry_id = raw.entry_id;
    f.entry.cycle_id.assign(raw.cycle_id, raw.cycle_id_length);
    f.entry.account.assign(raw.account, raw.account_length);
    f.entry.amount.assign(raw.amount, raw.amount_length);
    f.entry.currency.assign(raw.currency, raw.currency_length);
    f.status.assign(raw.status, raw.status_length);
    return f;
}

// The fence check of a call that writes nothing (a replay that returns the
// stored entry): the lease's current state, without a lock.
void check_fence_unlocked(const Fence& fence) {
    check_fence(read_lease(fence.name), fence.name, fence.token, now_micros());
}

PostResult replay(const FoundEntry& found, const PostRequest& request) {
    check_replay(found.entry, request);
    return {found.entry.entry_id, false, found.status};
}

}  // namespace

PostResult post_entry(const PostRequest& request, const std::optional<Fence>& fence) {
    static Statement insert(
        "INSERT INTO coord.ledger_entries "
        "(idempotency_key, cycle_id, account, amount, currency, fence_name, fence_token) "
        "VALUES ($1, $2, $3, $4::pg_catalog.numeric, $5, $6, $7) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING entry_id",
        {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID}, /*generic_plan=*/true);
    // A replay: nothing is written, so the fence needs no lock.
    if (auto found = find_entry(request.idempotency_key)) {
        if (fence) check_fence_unlocked(*fence);
        return replay(*found, request);
    }
    Spi spi;  // only a new entry needs the executor
    if (fence) verify_fence(spi, fence->name, fence->token);
    std::optional<std::string_view> fence_name;
    std::optional<std::int64_t> fence_token;
    if (fence) {
        fence_name = fence->name;
        fence_token = fence->token;
    }
    spi.run(insert, {text_param(request.idempotency_key), text_param(request.cycle_id),
                     text_param(request.account), text_param(request.amount),
                     text_param(request.currency), text_param(fence_name),
                     int64_param(fence_token)});
    if (auto row = spi.first_row()) return {row->get_int64(1).value_or(0), true, "pending"};
    // Another session inserted the key since we looked: ON CONFLICT waited
    // for it to commit, and a fresh snapshot now sees its entry (ledger rows
    // are never deleted). Every concurrent caller gets that entry_id.
    if (auto found = find_entry(request.idempotency_key)) return replay(*found, request);
    throw Error(sqlstate::internal_error,
                fmt::format("ledger entry with idempotency_key \"{}\" could not be read after a "
                            "conflicting insert",
                            request.idempotency_key));
}

bool settle_entry(Spi& spi, std::int64_t entry_id, EntryStatus status,
                  std::optional<std::string_view> external_ref, const std::optional<Fence>& fence) {
    static Statement lock_entry(
        "SELECT status, external_ref FROM coord.ledger_entries WHERE entry_id = $1 "
        "FOR NO KEY UPDATE",
        {INT8OID});
    static Statement settle(
        "UPDATE coord.ledger_entries SET status = $2, external_ref = $3, "
        "settled_at = pg_catalog.clock_timestamp() WHERE entry_id = $1",
        {INT8OID, TEXTOID, TEXTOID});
    if (fence) verify_fence(spi, fence->name, fence->token);
    spi.run(lock_entry, {int64_param(entry_id)});
    std::optional<Row> row = spi.first_row();
    if (!row)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("ledger entry {} does not exist", entry_id));
    SettleState current{parse_stored_status(row->get_text(1).value_or("")), row->get_text(2)};
    if (!decide_settle(entry_id, current, status, external_ref)) return false;
    spi.run(settle, {int64_param(entry_id), text_param(to_string(status)), text_param(external_ref)});
    return true;
}

}  // namespace coord::pg
