// Helpers for the hot paths that read a row through its index without the
// executor (leases, ledger posts, routing). Call them inside pg_call.
#pragma once

#include "pg/common/pg_headers.hpp"

extern "C" {
#include "access/htup.h"
#include "access/skey.h"
#include "utils/relcache.h"
}

namespace coord::pg {

// Sets every scan key (sk_attno: a table column, as systable_beginscan
// expects) to the collation of the index column built on that column. A btree is
// searched in the order it was built in (the column's collation); a key
// left at ScanKeyInit's default (C) misses rows under any other collation.
void use_index_collations(ScanKeyData* keys, int nkeys, Oid index_oid);

// Looks up the row of a key in a unique index the way INSERT ... ON CONFLICT
// looks for a conflict, so that one look-up tells "the key exists" from "the
// key is free, insert it": it finds the committed row and rows this
// transaction wrote (whatever their command); an insert of the key by a
// transaction still in progress is waited for, then the look-up runs again. A
// row that another transaction is updating is read as it was before. Under
// REPEATABLE READ or SERIALIZABLE the version the transaction's snapshot sees
// comes first, and a row committed after that snapshot raises 40001 (as ON
// CONFLICT DO NOTHING does). `read` gets the row while the scan holds it
// (plain C, inside pg_call); false when the key has no row. `keys` name
// table columns, as for systable_beginscan.
bool find_unique_key_row(Relation table, Oid unique_index, ScanKeyData* keys, int nkeys,
                         void (*read)(HeapTuple row, TupleDesc desc, void* out), void* out);

// True when a transaction other than this one, still in progress, has
// inserted a row with this key into the unique index (an insert of the key
// nobody can see yet): what INSERT ... ON CONFLICT of the key would wait
// for, and what a caller that must not wait counts as busy. Looks with a
// dirty snapshot, as find_unique_key_row does; waits for nothing. `keys`
// name table columns, as for systable_beginscan.
bool key_insert_in_progress(Relation table, Oid unique_index, ScanKeyData* keys, int nkeys);

// The transaction other than this one, still in progress, that is inserting,
// updating or deleting the row of this key in a unique index (what a write
// of the row would wait for first); InvalidTransactionId when none. A
// transaction that only locks the row does not count. Looks with a dirty
// snapshot and waits for nothing, so a caller can wait for exactly that
// transaction and then decide again, instead of letting a row lock follow
// the row's update chain to whichever writer came next.
TransactionId key_row_writer_in_progress(Relation table, Oid unique_index, ScanKeyData* keys,
                                         int nkeys);

// Who decides the next state of the row of this key, for a wait-for graph:
// `other`, the top-level transaction id of another transaction still in
// progress that is inserting, updating or deleting it (as
// key_row_writer_in_progress, subtransactions mapped to their top level when
// pg_subtrans still knows them), or `mine` when the version a dirty snapshot
// returns was written by this transaction. Waits for nothing.
struct KeyRowWriter {
    TransactionId other = InvalidTransactionId;
    bool mine = false;
};
KeyRowWriter key_row_writer(Relation table, Oid unique_index, ScanKeyData* keys, int nkeys);

}  // namespace coord::pg
