#include "core/common/error.hpp"
#include "core/leases/lease.hpp"
#include "core/ledger/ledger.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/direct_write.hpp"
#include "pg/common/index_lookup.hpp"
#include "pg/leases/leases.hpp"
#include "pg/ledger/ledger_store.hpp"
#include "pg/common/relation_layout.hpp"

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

// The columns of coord.ledger_entries that the direct reads and the direct
// insert address (CREATE TABLE in extension/sql/20_ledger.sql), found by
// name and type (relation_layout.hpp).
constexpr ColumnSpec kEntryColumns[] = {
    {"entry_id", INT8OID},
    {"idempotency_key", TEXTOID},
    {"cycle_id", TEXTOID},
    {"account", TEXTOID},
    {"amount", NUMERICOID},
    {"currency", TEXTOID},
    {"status", TEXTOID},
    {"external_ref", TEXTOID},
    {"fence_name", TEXTOID},
    {"fence_token", INT8OID},
    {"created_at", TIMESTAMPTZOID},
    {"settled_at", TIMESTAMPTZOID},
    {"posted_by", REGROLEOID},
};
ColumnMap entry_columns(kEntryColumns);
namespace column {
constexpr int entry_id = column_index(kEntryColumns, "entry_id");
constexpr int idempotency_key = column_index(kEntryColumns, "idempotency_key");
constexpr int cycle_id = column_index(kEntryColumns, "cycle_id");
constexpr int account = column_index(kEntryColumns, "account");
constexpr int amount = column_index(kEntryColumns, "amount");
constexpr int currency = column_index(kEntryColumns, "currency");
constexpr int status = column_index(kEntryColumns, "status");
constexpr int external_ref = column_index(kEntryColumns, "external_ref");
constexpr int fence_name = column_index(kEntryColumns, "fence_name");
constexpr int fence_token = column_index(kEntryColumns, "fence_token");
constexpr int created_at = column_index(kEntryColumns, "created_at");
constexpr int settled_at = column_index(kEntryColumns, "settled_at");
constexpr int posted_by = column_index(kEntryColumns, "posted_by");
}  // namespace column

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

// A stored entry as plain data, so that it can leave pg_call (guard.hpp):
// its text is palloc'd in the caller's memory context.
struct RawEntry {
    bool found;
    std::int64_t entry_id;
    TextBytes cycle_id, account, amount, currency, status;
    Oid posted_by;
};

// What copy_entry reads with: the columns, and where the entry goes.
struct EntryRead {
    const RelationLayout* layout;
    RawEntry* row;
};

// Copies the entry's columns out of the row (a find_unique_key_row reader).
void copy_entry(HeapTuple tuple, TupleDesc desc, void* out) {
    const EntryRead& read = *static_cast<EntryRead*>(out);
    const AttrNumber* attnum = read.layout->attnum;
    RawEntry& row = *read.row;
    bool isnull = false;
    // NOT NULL columns; a NULL written around the functions reads as empty.
    auto text_at = [&](int col) {
        Datum value = heap_getattr(tuple, attnum[col], desc, &isnull);
        return isnull ? TextBytes{"", 0} : copy_text_bytes(value);
    };
    row.found = true;
    row.entry_id = DatumGetInt64(heap_getattr(tuple, attnum[column::entry_id], desc, &isnull));
    row.cycle_id = text_at(column::cycle_id);
    row.account = text_at(column::account);
    Datum amount = heap_getattr(tuple, attnum[column::amount], desc, &isnull);
    char* amount_text = isnull ? pstrdup("") : DatumGetCString(DirectFunctionCall1(numeric_out, amount));
    row.amount = {amount_text, strlen(amount_text)};
    row.currency = text_at(column::currency);
    row.status = text_at(column::status);
    Datum posted_by = heap_getattr(tuple, attnum[column::posted_by], desc, &isnull);
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
        EntryRead read{&entry_columns.require_layout(table), out};
        text* key_text = cstring_to_text_with_len(key.data(), static_cast<int>(key.size()));
        ScanKeyData scan_key;  // systable scans name the heap column
        ScanKeyInit(&scan_key, read.layout->attnum[column::idempotency_key], BTEqualStrategyNumber,
                    F_TEXTEQ, PointerGetDatum(key_text));
        find_unique_key_row(table, rel.key_index, &scan_key, 1, copy_entry, &read);
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
    f.entry.cycle_id.assign(raw.cycle_id.data, raw.cycle_id.length);
    f.entry.account.assign(raw.account.data, raw.account.length);
    f.entry.amount.assign(raw.amount.data, raw.amount.length);
    f.entry.currency.assign(raw.currency.data, raw.currency.length);
    f.entry.posted_by = raw.posted_by;
    f.status.assign(raw.status.data, raw.status.length);
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
// needs_executor when the table may not be written so (may_write_directly:
// triggers, constraints, row-level security, another layout).
InsertAttempt insert_entry_directly(const PostRequest& request, const std::optional<Fence>& fence,
                                    Oid posted_by) {
    InsertAttempt attempt{};
    InsertAttempt* out = &attempt;
    pg_call([&] {
        LedgerRelations rel = ledger_relations();
        // Kept until the transaction ends, as by INSERT.
        Relation table = table_open(rel.table, RowExclusiveLock);
        if (!may_write_directly(table, entry_columns, WriteCommand::insert)) {
            out->outcome = InsertOutcome::needs_executor;
        } else {
            // The executor's checks for an INSERT (ExecCheckXactReadOnly).
            PreventCommandIfReadOnly("INSERT");
            PreventCommandIfParallelMode("INSERT");
            const AttrNumber* attnum = entry_columns.layout(table).attnum;
            RowValues row = new_row_values(table);
            auto set = [&](int col, Datum value) { set_column(row, attnum[col], value); };
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
            set_column_null(row, attnum[column::external_ref]);
            if (fence) {
                set(column::fence_name, PointerGetDatum(text_of(fence->name)));
                set(column::fence_token, Int64GetDatum(fence->token));
            } else {
                set_column_null(row, attnum[column::fence_name]);
                set_column_null(row, attnum[column::fence_token]);
            }
            set(column::created_at, TimestampTzGetDatum(GetCurrentTimestamp()));
            set_column_null(row, attnum[column::settled_at]);
            set(column::posted_by, ObjectIdGetDatum(posted_by));
            bool inserted = insert_unless_key_exists(table, rel.key_index, row.values, row.nulls);
            out->outcome = inserted ? InsertOutcome::inserted : InsertOutcome::key_exists;
            out->entry_id = entry_id;
        }
        table_close(table, NoLock);
    });
    return attempt;
}

// The same insert through SQL, for a table that may not be written directly
// (may_write_directly): the entry_id, or nullopt when the key exists.
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
        throw Error(sqlstate::undefined_object, fmt::format("ledger entry {} does not exist", entry_id));
    SettleState current{parse_stored_status(row->get_text(1).value_or("")), row->get_text(2),
                        row->get_oid(3).value_or(InvalidOid)};
    if (!decide_settle(entry_id, current, status, external_ref, caller)) return false;
    spi.run(settle, {int64_param(entry_id), text_param(to_string(status)), text_param(external_ref)});
    return true;
}

}  // namespace coord::pg
