#include "pg/common/index_lookup.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/subtrans.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/tableam.h"
#include "catalog/pg_index.h"
#include "storage/lmgr.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace coord::pg {

namespace {

// The collations of the index columns the hot look-ups search, kept per
// backend: opening the index on every look-up only to read them costs a lock
// round trip. An entry is forgotten when its index's cache entry is
// invalidated (a collation never changes, but a dropped index's OID may be
// reused).
struct IndexColumnCollation {
    Oid index;
    AttrNumber table_column;
    Oid collation;
};
constexpr int kCachedCollations = 16;
IndexColumnCollation cached_collations[kCachedCollations];
int cached_count = 0;
bool invalidation_registered = false;

void forget_collations(Datum, Oid relation) {
    int kept = 0;
    for (int i = 0; i < cached_count; ++i)
        if (OidIsValid(relation) && cached_collations[i].index != relation)
            cached_collations[kept++] = cached_collations[i];
    cached_count = kept;
}

bool cached_collation(Oid index, AttrNumber table_column, Oid* collation) {
    for (int i = 0; i < cached_count; ++i)
        if (cached_collations[i].index == index &&
            cached_collations[i].table_column == table_column) {
            *collation = cached_collations[i].collation;
            return true;
        }
    return false;
}

// Before systable_beginscan a key names a table column (sk_attno); the
// collation is that of the index column built on it.
void read_collations(ScanKeyData* keys, int nkeys, Oid index_oid) {
    if (!invalidation_registered) {
        CacheRegisterRelcacheCallback(forget_collations, Datum(0));
        invalidation_registered = true;
    }
    Relation index = index_open(index_oid, AccessShareLock);
    for (int i = 0; i < nkeys; ++i)
        for (int column = 0; column < index->rd_index->indnkeyatts; ++column)
            if (index->rd_index->indkey.values[column] == keys[i].sk_attno) {
                keys[i].sk_collation = index->rd_indcollation[column];
                Oid known;
                if (cached_count < kCachedCollations &&
                    !cached_collation(index_oid, keys[i].sk_attno, &known))
                    cached_collations[cached_count++] = {index_oid, keys[i].sk_attno,
                                                         keys[i].sk_collation};
            }
    index_close(index, AccessShareLock);
}

}  // namespace

void use_index_collations(ScanKeyData* keys, int nkeys, Oid index_oid) {
    bool all_cached = true;
    for (int i = 0; i < nkeys && all_cached; ++i)
        all_cached = cached_collation(index_oid, keys[i].sk_attno, &keys[i].sk_collation);
    if (!all_cached) read_collations(keys, nkeys, index_oid);
}

namespace {

// systable_beginscan renumbers its keys to index columns: every scan starts
// from a copy of the caller's.
SysScanDesc begin_key_scan(Relation table, Oid index, Snapshot snapshot, const ScanKeyData* keys,
                           int nkeys) {
    ScanKeyData* scan_keys = static_cast<ScanKeyData*>(palloc(sizeof(ScanKeyData) * nkeys));
    memcpy(scan_keys, keys, sizeof(ScanKeyData) * nkeys);
    return systable_beginscan(table, index, true, snapshot, nkeys, scan_keys);
}

// Under REPEATABLE READ or SERIALIZABLE the key's row is first the version
// the transaction's snapshot sees (a later change of it, committed or not,
// is not this transaction's business).
bool find_in_transaction_snapshot(Relation table, Oid unique_index, const ScanKeyData* keys,
                                  int nkeys, void (*read)(HeapTuple, TupleDesc, void*),
                                  void* out) {
    SysScanDesc scan =
        begin_key_scan(table, unique_index, GetTransactionSnapshot(), keys, nkeys);
    HeapTuple row = systable_getnext(scan);
    if (row != nullptr) read(row, RelationGetDescr(table), out);
    systable_endscan(scan);
    return row != nullptr;
}

// ON CONFLICT's check under a transaction snapshot (ExecCheckTIDVisible):
// a row committed after the snapshot was taken is a serialization failure.
void require_visible_to_transaction(Relation table, SysScanDesc scan, HeapTuple row) {
    if (!IsolationUsesXactSnapshot()) return;
    if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(row->t_data))) return;
    if (!table_tuple_satisfies_snapshot(table, scan->slot, GetTransactionSnapshot()))
        ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                        errmsg("could not serialize access due to concurrent update")));
}

}  // namespace

bool find_unique_key_row(Relation table, Oid unique_index, ScanKeyData* keys, int nkeys,
                         void (*read)(HeapTuple row, TupleDesc desc, void* out), void* out) {
    use_index_collations(keys, nkeys, unique_index);
    if (IsolationUsesXactSnapshot() &&
        find_in_transaction_snapshot(table, unique_index, keys, nkeys, read, out))
        return true;
    for (;;) {
        // A dirty snapshot sees rows of transactions in progress and tells
        // who they are (check_exclusion_or_unique_constraint does the same).
        SnapshotData dirty;
        InitDirtySnapshot(dirty);
        SysScanDesc scan = begin_key_scan(table, unique_index, &dirty, keys, nkeys);
        TransactionId inserter = InvalidTransactionId;
        uint32 speculative_token = 0;
        ItemPointerData inserted_row;
        bool found = false;
        while (HeapTuple row = systable_getnext(scan)) {
            if (TransactionIdIsValid(dirty.xmin)) {
                // The new version of a row being updated: the scan also
                // returns the version before the update, which counts.
                if (row->t_data->t_infomask & HEAP_UPDATED) continue;
                inserter = dirty.xmin;
                speculative_token = dirty.speculativeToken;
                inserted_row = row->t_self;
                break;
            }
            require_visible_to_transaction(table, scan, row);
            read(row, RelationGetDescr(table), out);
            found = true;
            break;
        }
        systable_endscan(scan);
        if (!TransactionIdIsValid(inserter)) return found;
        // Wait without holding the scan, then look again: the insert may
        // have committed, rolled back, or killed its speculative row.
        if (speculative_token != 0)
            SpeculativeInsertionWait(inserter, speculative_token);
        else
            XactLockTableWait(inserter, table, &inserted_row, XLTW_InsertIndex);
    }
}

bool key_insert_in_progress(Relation table, Oid unique_index, ScanKeyData* keys, int nkeys) {
    use_index_collations(keys, nkeys, unique_index);
    SnapshotData dirty;
    InitDirtySnapshot(dirty);
    SysScanDesc scan = begin_key_scan(table, unique_index, &dirty, keys, nkeys);
    bool in_progress = false;
    while (HeapTuple row = systable_getnext(scan)) {
        // dirty.xmin: the inserter of the version returned, when it is still
        // in progress (HeapTupleSatisfiesDirty); the new version of a row
        // being updated does not count, its old version is the row.
        if (TransactionIdIsValid(dirty.xmin) && !(row->t_data->t_infomask & HEAP_UPDATED)) {
            in_progress = true;
            break;
        }
    }
    systable_endscan(scan);
    return in_progress;
}

TransactionId key_row_writer_in_progress(Relation table, Oid unique_index, ScanKeyData* keys,
                                         int nkeys) {
    use_index_collations(keys, nkeys, unique_index);
    SnapshotData dirty;
    InitDirtySnapshot(dirty);
    SysScanDesc scan = begin_key_scan(table, unique_index, &dirty, keys, nkeys);
    TransactionId writer = InvalidTransactionId;
    while (HeapTuple row = systable_getnext(scan)) {
        (void)row;
        // HeapTupleSatisfiesDirty: xmin is the version's inserter (an insert
        // or the new version of an update) and xmax its updater or deleter,
        // when still in progress; a lock-only xmax sets neither.
        if (TransactionIdIsValid(dirty.xmax)) writer = dirty.xmax;
        else if (TransactionIdIsValid(dirty.xmin)) writer = dirty.xmin;
        if (TransactionIdIsValid(writer)) break;
    }
    systable_endscan(scan);
    return writer;
}

KeyRowWriter key_row_writer(Relation table, Oid unique_index, ScanKeyData* keys, int nkeys) {
    use_index_collations(keys, nkeys, unique_index);
    SnapshotData dirty;
    InitDirtySnapshot(dirty);
    SysScanDesc scan = begin_key_scan(table, unique_index, &dirty, keys, nkeys);
    KeyRowWriter out;
    while (HeapTuple row = systable_getnext(scan)) {
        if (TransactionIdIsValid(dirty.xmax)) out.other = dirty.xmax;
        else if (TransactionIdIsValid(dirty.xmin)) out.other = dirty.xmin;
        else if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(row->t_data))) out.mine = true;
        if (TransactionIdIsValid(out.other) || out.mine) break;
    }
    systable_endscan(scan);
    if (TransactionIdIsValid(out.other) && TransactionIdFollowsOrEquals(out.other, TransactionXmin))
        out.other = SubTransGetTopmostTransaction(out.other);
    return out;
}

}  // namespace coord::pg
