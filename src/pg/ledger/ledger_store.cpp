#include "core/common/error.hpp"
#include "core/leases/lease.hpp"
#include "core/ledger/ledger.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/direct_write.hpp"
#include "pg/common/index_lookup.hpp"
#include "pg/leases/leases.hpp"
#include "pg/ledger/ledger_store.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relation.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "commands/sequence.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
}

#include <cstring>

namespace coord::pg {

namespace {

// The columns of coord.ledger_entries, numbered in table order
// (CREATE TABLE in extension/sql/20_ledger.sql): the direct reads and the
// direct insert address them by number.
namespace column {
constexpr int entry_id = 1;
constexpr int idempotency_key = 2;
constexpr int cycle_id = 3;
constexpr int account = 4;
constexpr int amount = 5;
constexpr int currency = 6;
constexpr int status = 7;
constexpr int external_ref = 8;
constexpr int fence_name = 9;
constexpr int fence_token = 10;
constexpr int created_at = 11;
constexpr int settled_at = 12;
constexpr int posted_by = 13;
constexpr int count = 13;
}  // namespace column

struct ColumnSpec {
    const char* name;
    Oid type;
};
constexpr ColumnSpec kEntryColumns[column::count] = {
    {"entry_id", INT8OID},     {"idempotency_key", TEXTOID}, {"cycle_id", TEXTOID},
    {"account", TEXTOID},      {"amount", NUMERICOID},       {"currency", TEXTOID},
    {"status", TEXTOID},       {"external_ref", TEXTOID},    {"fence_name", TEXTOID},
    {"fence_token", INT8OID},  {"created_at", TIMESTAMPTZOID}, {"settled_at", TIMESTAMPTZOID},
    {"posted_by", REGROLEOID},
};

// A row built by number into a table of other columns would be silently
// wrong, so the direct insert checks the layout first (inside pg_call).
void check_entry_columns(TupleDesc desc) {
    bool same = desc->natts == column::count;
    for (int i = 0; same && i < column::count; ++i) {
        Form_pg_attribute attribute = TupleDescAttr(desc, i);
        same = !attribute->attisdropped && attribute->atttypid == kEntryColumns[i].type &&
               strcmp(NameStr(attribute->attname), kEntryColumns[i].name) == 0;
    }
    if (!same)
        elog(ERROR, "pg_coord: coord.ledger_entries does not have the columns of this pg_coord "
                    "library (extension/sql/20_ledger.sql)");
}

struct LedgerRelations {
    Oid table;
    Oid key_index;
    Oid entry_id_sequence;
};

LedgerRelations ledger_relations() {
    return {coord_relation_oid(CoordRelation::ledger_entries),
            coord_relation_oid(CoordRelation::ledger_entries_idempotency_key),
            coord_relation_oid(CoordRelation::ledger_entries_entry_id_seq)};
}

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
    Oid posted_by;
};

void copy_text(Datum value, char* out, std::size_t capacity, std::size_t* length) {
    text* t = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(value)));
    *length = Min(VARSIZE_ANY_EXHDR(t), capacity);
    memcpy(out, VARDATA_ANY(t), *length);
}

// Copies the entry's columns out of the row (a find_unique_key_row reader).
void copy_entry(HeapTuple tuple, TupleDesc desc, void* out) {
    RawEntry& row = *static_cast<RawEntry*>(out);
    bool isnull = false;
    row.found = true;
    row.entry_id = DatumGetInt64(heap_getattr(tuple, column::entry_id, desc, &isnull));
    copy_text(heap_getattr(tuple, column::cycle_id, desc, &isnull), row.cycle_id, kMaxCycleIdBytes,
              &row.cycle_id_length);
    copy_text(heap_getattr(tuple, column::account, desc, &isnull), row.account, kMaxAccountBytes,
              &row.account_length);
    char* amount = DatumGetCString(
        DirectFunctionCall1(numeric_out, heap_getattr(tuple, column::amount, desc, &isnull)));
    row.amount_length = Min(strlen(amount), sizeof(row.amount) - 1);
    memcpy(row.amount, amount, row.amount_length);
    copy_text(heap_getattr(tuple, column::currency, desc, &isnull), row.currency,
              sizeof(row.currency) - 1, &row.currency_length);
    copy_text(heap_getattr(tuple, column::status, desc, &isnull), row.status,
              sizeof(row.status) - 1, &row.status_length);
    Datum posted_by = heap_getattr(tuple, column::posted_by, desc, &isnull);
    row.posted_by = isnull ? InvalidOid : DatumGetObjectId(posted_by);
}

// Reads the entry of an idempotency key through the unique index, without
// the executor (an SPI SELECT costs more than the rest of a replay), as ON
// CONFLICT would find it: so a post that finds nothing inserts right away,
// and a post that finds an insert of its key in progress waits for it, as
// the insert would have to.
RawEntry read_entry_by_key(std::string_view key) {
    RawEntry row{};
    RawEntry* out = &row;  // filled through a pointer: pg_call returns scalars only
    pg_call([&] {
        LedgerRelations rel = ledger_relations();
        Relation table = table_open(rel.table, AccessShareLock);
        text* key_text = cstring_to_text_with_len(key.data(), static_cast<int>(key.size()));
        ScanKeyData scan_key;  // systable scans name the heap column
        ScanKeyInit(&scan_key, column::idempotency_key, BTEqualStrategyNumber, F_TEXTEQ,
                    PointerGetDatum(key_text));
        find_unique_key_row(table, rel.key_index, &scan_key, 1, copy_entry, out);
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
    f.entry.posted_by = raw.posted_by;
    f.status.assign(raw.status, raw.status_length);
    return f;
}

// The fence check of a call that writes nothing (a replay that returns the
// stored entry): the lease's current state, without a lock.
void check_fence_unlocked(const Fence& fence, const Caller& caller) {
    check_fence(read_lease(fence.name), fence.name, fence.token, caller, now_micros());
}

PostResult replay(const FoundEntry& found, const PostRequest& request, const Caller& caller) {
    check_replay(found.entry, request, caller);
    return {found.entry.entry_id, false, found.status};
}

enum class InsertOutcome { inserted, key_exists, needs_executor };

struct InsertAttempt {
    InsertOutcome outcome;
    std::int64_t entry_id;  // inserted
};

text* text_of(std::string_view value) {
    return cstring_to_text_with_len(value.data(), static_cast<int>(value.size()));
}

// A new pending entry, written without the executor: what
//   INSERT INTO coord.ledger_entries (...) VALUES (...)
//   ON CONFLICT (idempotency_key) DO NOTHING RETURNING entry_id
// does, with the column defaults of 20_ledger.sql (entry_id from its
// identity sequence, status 'pending', created_at clock_timestamp()).
// needs_executor when the table has gained triggers or constraints.
InsertAttempt insert_entry_directly(const PostRequest& request, const std::optional<Fence>& fence,
                                    Oid posted_by) {
    InsertAttempt attempt{};
    InsertAttempt* out = &attempt;
    pg_call([&] {
        LedgerRelations rel = ledger_relations();
        // Kept until the transaction ends, as by INSERT.
        Relation table = table_open(rel.table, RowExclusiveLock);
        if (insert_needs_executor(table)) {
            out->outcome = InsertOutcome::needs_executor;
        } else {
            // The executor's checks for an INSERT (ExecCheckXactReadOnly).
            PreventCommandIfReadOnly("INSERT");
            PreventCommandIfParallelMode("INSERT");
            check_entry_columns(RelationGetDescr(table));
            Datum values[column::count] = {};
            bool nulls[column::count] = {};
            auto set = [&](int number, Datum value) { values[number - 1] = value; };
            std::int64_t entry_id = nextval_internal(rel.entry_id_sequence, false);
            set(column::entry_id, Int64GetDatum(entry_id));
            set(column::idempotency_key, PointerGetDatum(text_of(request.idempotency_key)));
            set(column::cycle_id, PointerGetDatum(text_of(request.cycle_id)));
            set(column::account, PointerGetDatum(text_of(request.account)));
            set(column::amount,
                DirectFunctionCall3(numeric_in, CStringGetDatum(request.amount.c_str()),
                                    ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
            set(column::currency, PointerGetDatum(text_of(request.currency)));
            set(column::status, PointerGetDatum(cstring_to_text(to_string(EntryStatus::pending))));
            nulls[column::external_ref - 1] = true;
            if (fence) {
                set(column::fence_name, PointerGetDatum(text_of(fence->name)));
                set(column::fence_token, Int64GetDatum(fence->token));
            } else {
                nulls[column::fence_name - 1] = true;
                nulls[column::fence_token - 1] = true;
            }
            set(column::created_at, TimestampTzGetDatum(GetCurrentTimestamp()));
            nulls[column::settled_at - 1] = true;
            set(column::posted_by, ObjectIdGetDatum(posted_by));
            bool inserted = insert_unless_key_exists(table, rel.key_index, values, nulls);
            out->outcome = inserted ? InsertOutcome::inserted : InsertOutcome::key_exists;
            out->entry_id = entry_id;
        }
        table_close(table, NoLock);
    });
    return attempt;
}

// The same insert through SQL, for a table with triggers or constraints
// (insert_needs_executor): the entry_id, or nullopt when the key exists.
// coord.ledger_post has invoker rights; Spi runs this as the extension's
// owner with a pinned search_path, as SECURITY DEFINER would.
std::optional<std::int64_t> insert_entry_with_executor(const PostRequest& request,
                                                       const std::optional<Fence>& fence,
                                                       Oid posted_by) {
    static Statement insert(
        "INSERT INTO coord.ledger_entries "
        "(idempotency_key, cycle_id, account, amount, currency, fence_name, fence_token, posted_by) "
        "VALUES ($1, $2, $3, $4::pg_catalog.numeric, $5, $6, $7, $8) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING entry_id",
        {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, REGROLEOID});
    std::optional<std::string_view> fence_name;
    std::optional<std::int64_t> fence_token;
    if (fence) {
        fence_name = fence->name;
        fence_token = fence->token;
    }
    Spi spi;
    spi.run(insert, {text_param(request.idempotency_key), text_param(request.cycle_id),
                     text_param(request.account), text_param(request.amount),
                     text_param(request.currency), text_param(fence_name),
                     int64_param(fence_token), role_param(posted_by)});
    if (auto row = spi.first_row()) return row->get_int64(1);
    return std::nullopt;
}

}  // namespace

PostResult post_entry(const PostRequest& request, const std::optional<Fence>& fence,
                      const Caller& caller) {
    // A replay: nothing is written, so the fence needs no lock.
    if (auto found = find_entry(request.idempotency_key)) {
        if (fence) check_fence_unlocked(*fence, caller);
        return replay(*found, request, caller);
    }
    if (fence) verify_fence(fence->name, fence->token, caller);
    InsertAttempt attempt = insert_entry_directly(request, fence, caller.role());
    if (attempt.outcome == InsertOutcome::needs_executor) {
        std::optional<std::int64_t> entry_id =
            insert_entry_with_executor(request, fence, caller.role());
        attempt = entry_id ? InsertAttempt{InsertOutcome::inserted, *entry_id}
                           : InsertAttempt{InsertOutcome::key_exists, 0};
    }
    if (attempt.outcome == InsertOutcome::inserted)
        return {attempt.entry_id, true, to_string(EntryStatus::pending)};
    // Another session inserted the key since we looked: the insert waited
    // for it to commit, and the look-up now finds its entry (ledger rows are
    // never deleted). Every concurrent caller gets that entry_id.
    if (auto found = find_entry(request.idempotency_key)) return replay(*found, request, caller);
    throw Error(sqlstate::internal_error,
                fmt::format("ledger entry with idempotency_key \"{}\" could not be read after a "
                            "conflicting insert",
                            request.idempotency_key));
}

bool settle_entry(Spi& spi, std::int64_t entry_id, EntryStatus status,
                  std::optional<std::string_view> external_ref, const std::optional<Fence>& fence,
                  const Caller& caller) {
    static Statement lock_entry(
        "SELECT status, external_ref, posted_by FROM coord.ledger_entries WHERE entry_id = $1 "
        "FOR NO KEY UPDATE",
        {INT8OID});
    static Statement settle(
        "UPDATE coord.ledger_entries SET status = $2, external_ref = $3, "
        "settled_at = pg_catalog.clock_timestamp() WHERE entry_id = $1",
        {INT8OID, TEXTOID, TEXTOID});
    if (fence) verify_fence(fence->name, fence->token, caller);
    spi.run(lock_entry, {int64_param(entry_id)});
    std::optional<Row> row = spi.first_row();
    if (!row)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("ledger entry {} does not exist", entry_id));
    SettleState current{parse_stored_status(row->get_text(1).value_or("")), row->get_text(2),
                        row->get_oid(3).value_or(InvalidOid)};
    if (!decide_settle(entry_id, current, status, external_ref, caller)) return false;
    spi.run(settle, {int64_param(entry_id), text_param(to_string(status)), text_param(external_ref)});
    return true;
}

}  // namespace coord::pg
