#include "pg/collab/doc_store.hpp"

#include "pg/common/coord_relations.hpp"
#include "pg/common/direct_write.hpp"
#include "pg/common/guard.hpp"
#include "pg/common/index_lookup.hpp"
#include "pg/common/relation_layout.hpp"

#include <vector>

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/sequence.h"
#include "common/hashfn.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace coord::pg {

using collab::Position;
using collab::Seq;

namespace {

// Held updates and the appends that release them must see each other: see
// doc_functions.cpp. A tag of the advisory kind whose last field (0x4344) no
// pg_advisory_* call uses.
constexpr uint16 kDocLockField4 = 0x4344;

// The columns of coord.doc_updates and coord.doc_announce that the direct
// append reads and writes (extension/sql/70_collab.sql), found by name and
// type (relation_layout.hpp).
constexpr ColumnSpec kUpdateColumns[] = {
    {"doc", TEXTOID},       {"client", TEXTOID},       {"seq", INT8OID},
    {"position", INT8OID},  {"deps", JSONBOID},        {"payload", BYTEAOID},
    {"appended_by", REGROLEOID}, {"appended_at", TIMESTAMPTZOID},
};
ColumnMap update_columns(kUpdateColumns);
namespace col {
constexpr int doc = column_index(kUpdateColumns, "doc");
constexpr int client = column_index(kUpdateColumns, "client");
constexpr int seq = column_index(kUpdateColumns, "seq");
constexpr int position = column_index(kUpdateColumns, "position");
constexpr int deps = column_index(kUpdateColumns, "deps");
constexpr int payload = column_index(kUpdateColumns, "payload");
constexpr int appended_by = column_index(kUpdateColumns, "appended_by");
constexpr int appended_at = column_index(kUpdateColumns, "appended_at");
}  // namespace col

constexpr ColumnSpec kAnnounceColumns[] = {{"doc", TEXTOID}, {"position", INT8OID}};
ColumnMap announce_columns(kAnnounceColumns);
namespace announce_col {
constexpr int doc = column_index(kAnnounceColumns, "doc");
constexpr int position = column_index(kAnnounceColumns, "position");
}  // namespace announce_col

// A requirement on another client: its seq `seq` must be delivered.
struct Requirement {
    const char* client;
    int length;
    Seq seq;
};

// Scans the primary key (doc, client, seq) from (doc, client, from) up.
// Each row found is passed to `row` with its seq and whether it is
// delivered, until it returns false. (A scan of a client's range from its
// highest seq down would read every index entry of the client on the leaf
// page: a btree reads a page's matching entries at once.)
template <typename F>
void scan_client(Relation table, Oid pkey, const AttrNumber* attnum, Snapshot snapshot, text* doc,
                 const char* client, int length, Seq from, F row) {
    ScanKeyData keys[3];  // renumbered to index columns by the scan
    ScanKeyInit(&keys[0], attnum[col::doc], BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(doc));
    ScanKeyInit(&keys[1], attnum[col::client], BTEqualStrategyNumber, F_TEXTEQ,
                PointerGetDatum(cstring_to_text_with_len(client, length)));
    ScanKeyInit(&keys[2], attnum[col::seq], BTGreaterEqualStrategyNumber, F_INT8GE,
                Int64GetDatum(from));
    use_index_collations(keys, 3, pkey);
    SysScanDesc scan = systable_beginscan(table, pkey, true, snapshot, 3, keys);
    TupleDesc desc = RelationGetDescr(table);
    while (HeapTuple tuple = systable_getnext(scan)) {
        bool isnull = false;
        Seq seq = DatumGetInt64(heap_getattr(tuple, attnum[col::seq], desc, &isnull));
        (void)heap_getattr(tuple, attnum[col::position], desc, &isnull);
        if (!row(seq, !isnull)) break;
    }
    systable_endscan(scan);
}

// Whether the client's stored seqs end at seq - 1, delivered: seq is new
// and its client's previous one delivered. (Not so when seq is stored, or
// was pruned: pruning deletes seq - 1 with it, in one transaction.)
bool next_of_delivered(Relation table, Oid pkey, const AttrNumber* attnum, Snapshot snapshot,
                       text* doc, const char* client, int length, Seq seq) {
    bool ready = false;
    scan_client(table, pkey, attnum, snapshot, doc, client, length, seq - 1,
                [&](Seq found, bool delivered) {
                    ready = found == seq - 1 && delivered;
                    return ready;  // a row after it: seq is stored
                });
    return ready;
}

// Whether update (doc, client, seq) is stored and delivered (a pruned one is
// not found: the SQL path decides).
bool delivered(Relation table, Oid pkey, const AttrNumber* attnum, Snapshot snapshot, text* doc,
               const char* client, int length, Seq seq) {
    bool ready = false;
    scan_client(table, pkey, attnum, snapshot, doc, client, length, seq,
                [&](Seq found, bool is_delivered) {
                    ready = found == seq && is_delivered;
                    return false;
                });
    return ready;
}

// Whether the held-updates index (doc) WHERE position IS NULL has a row of `doc`.
bool has_held(Relation table, Oid held_index, const AttrNumber* attnum, Snapshot snapshot, text* doc) {
    ScanKeyData key;
    ScanKeyInit(&key, attnum[col::doc], BTEqualStrategyNumber, F_TEXTEQ, PointerGetDatum(doc));
    use_index_collations(&key, 1, held_index);
    SysScanDesc scan = systable_beginscan(table, held_index, true, snapshot, 1, &key);
    bool found = HeapTupleIsValid(systable_getnext(scan));
    systable_endscan(scan);
    return found;
}

// A snapshot as an SPI statement of this function would take it: a new one
// under READ COMMITTED, the transaction's under REPEATABLE READ, seeing
// what this transaction wrote before (pop it with PopActiveSnapshot).
Snapshot push_statement_snapshot() {
    CommandCounterIncrement();
    PushCopiedSnapshot(GetTransactionSnapshot());
    UpdateActiveSnapshotCommandId();
    return GetActiveSnapshot();
}

void insert_announcement(Relation announce, text* doc, Position position) {
    const AttrNumber* attnum = announce_columns.layout(announce).attnum;
    RowValues row = new_row_values(announce);
    set_column(row, attnum[announce_col::doc], PointerGetDatum(doc));
    set_column(row, attnum[announce_col::position], Int64GetDatum(position));
    require_not_null(announce, row.nulls);
    HeapTuple tuple = heap_form_tuple(RelationGetDescr(announce), row.values, row.nulls);
    simple_heap_insert(announce, tuple);
    if (announce->rd_rel->relhasindex) insert_index_entries(announce, tuple);
}

}  // namespace

namespace {

LOCKTAG document_tag(std::string_view doc) {
    uint64 h = hash_bytes_extended(reinterpret_cast<const unsigned char*>(doc.data()),
                                   static_cast<int>(doc.size()), 0);
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, static_cast<uint32>(h >> 32), static_cast<uint32>(h),
                         kDocLockField4);
    return tag;
}

}  // namespace

void lock_document_in_pg(std::string_view doc, bool exclusive) {
    LOCKTAG tag = document_tag(doc);
    (void)LockAcquire(&tag, exclusive ? ExclusiveLock : ShareLock, false, false);
}

DirectAppend append_directly(std::string_view doc, const collab::Update& update,
                             const collab::StateVector& need, Datum payload,
                             std::optional<Datum> deps, Oid appended_by) {
    if (update.seq < 2) return {};  // a client's first seq counts the client: SQL
    std::vector<Requirement> others;
    for (const auto& [client, seq] : need)
        if (client != update.client)
            others.push_back({client.data(), static_cast<int>(client.size()), seq});
    const Requirement* other = others.data();
    int n_others = static_cast<int>(others.size());
    const collab::Update* u = &update;
    std::optional<Datum>* deps_arg = &deps;
    DirectAppend result;
    DirectAppend* out = &result;
    pg_call([&] {
        Relation table = table_open(coord_relation_oid(CoordRelation::doc_updates), RowExclusiveLock);
        Relation announce = table_open(coord_relation_oid(CoordRelation::doc_announce), RowExclusiveLock);
        if (!may_write_directly(table, update_columns, WriteCommand::insert) ||
            !may_write_directly(announce, announce_columns, WriteCommand::insert)) {
            table_close(announce, NoLock);
            table_close(table, NoLock);
            return;
        }
        // The executor's checks for an INSERT (ExecCheckXactReadOnly).
        PreventCommandIfReadOnly("INSERT");
        PreventCommandIfParallelMode("INSERT");
        const AttrNumber* attnum = update_columns.layout(table).attnum;
        Oid pkey_oid = coord_relation_oid(CoordRelation::doc_updates_pkey);
        text* doc_text = cstring_to_text_with_len(doc.data(), static_cast<int>(doc.size()));

        // The look-up, under the document's lock in share mode (so that it
        // also sees every held update committed before, which this delivery
        // may release): the client's stored seqs end at seq - 1, delivered,
        // and every other requirement is delivered. A requirement pruned
        // since (covered by a snapshot) is left to the SQL path, and so is a
        // stored seq (a resend; also one committed after this look-up, which
        // the insert finds).
        LOCKTAG tag = document_tag(doc);
        (void)LockAcquire(&tag, ShareLock, false, false);
        Snapshot snapshot = push_statement_snapshot();
        bool ready = next_of_delivered(table, pkey_oid, attnum, snapshot, doc_text, u->client.data(),
                                       static_cast<int>(u->client.size()), u->seq);
        for (int i = 0; ready && i < n_others; ++i)
            ready = delivered(table, pkey_oid, attnum, snapshot, doc_text, other[i].client,
                              other[i].length, other[i].seq);
        if (ready)
            out->held_exist = has_held(table, coord_relation_oid(CoordRelation::doc_updates_held),
                                       attnum, snapshot, doc_text);
        PopActiveSnapshot();
        if (!ready) {
            // Nothing was done under it: the SQL path takes the lock in the
            // mode it needs (exclusive for an update it would hold).
            LockRelease(&tag, ShareLock, false);
        } else {
            Position position =
                nextval_internal(coord_relation_oid(CoordRelation::doc_position), false);
            RowValues row = new_row_values(table);
            auto set = [&](int c, Datum value) { set_column(row, attnum[c], value); };
            set(col::doc, PointerGetDatum(doc_text));
            set(col::client, PointerGetDatum(cstring_to_text_with_len(
                                 u->client.data(), static_cast<int>(u->client.size()))));
            set(col::seq, Int64GetDatum(u->seq));
            set(col::position, Int64GetDatum(position));
            if (deps_arg->has_value())
                set(col::deps, **deps_arg);
            else
                set_column_null(row, attnum[col::deps]);
            set(col::payload, payload);
            set(col::appended_by, ObjectIdGetDatum(appended_by));
            set(col::appended_at, TimestampTzGetDatum(GetCurrentTimestamp()));
            if (insert_unless_key_exists(table, pkey_oid, row.values, row.nulls)) {
                insert_announcement(announce, doc_text, position);
                out->handled = true;
                out->position = position;
            }
            // Otherwise a concurrent append of this seq committed first: a
            // resend, which the SQL path answers.
        }
        table_close(announce, NoLock);
        table_close(table, NoLock);
    });
    return result;
}

}  // namespace coord::pg
