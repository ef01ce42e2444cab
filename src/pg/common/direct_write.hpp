// Writes to the extension's hot tables without an executor plan: a row
// inserted unless its key exists (INSERT ... ON CONFLICT (key) DO NOTHING,
// through PostgreSQL's own speculative insertion), and the index entries of
// a new row version. Planning and starting an SPI statement costs more than
// the rest of a hot call; these do the same work under the same concurrency
// rules. Call them inside pg_call (guard.hpp), with `table` opened with
// RowExclusiveLock.
#pragma once

#include "pg/common/pg_headers.hpp"

extern "C" {
#include "utils/rel.h"
}

namespace coord::pg {

// True when an insert into `table` must go through the executor, because
// the executor would do more than write the row and its index entries: the
// table has triggers, CHECK constraints or generated columns (an
// administrator may add them; the extension's hot tables have none). NOT
// NULL constraints are checked by insert_unless_key_exists.
bool insert_needs_executor(Relation table);

// Inserts the row `values`/`nulls` (every column, in table order) unless a
// row with the same key in the unique index `key_index` exists, for a caller
// that has just found the key free with find_unique_key_row (index_lookup.hpp).
// As with ON CONFLICT DO NOTHING, an insert of the same key by a transaction
// still in progress is waited for: true when this call inserted the row;
// false when a committed row (or one of this transaction) has the key. Under
// REPEATABLE READ or SERIALIZABLE, a conflicting row that this transaction's
// snapshot cannot see raises 40001, as ON CONFLICT does. Fires no triggers
// and checks no constraints besides NOT NULL and the indexes' (see
// insert_needs_executor).
bool insert_unless_key_exists(Relation table, Oid key_index, const Datum* values,
                              const bool* nulls);

// Index entries in every index of `table` for its new row version `tuple`
// (one that is not heap-only, see HeapTupleIsHeapOnly), with the unique
// checks of those indexes.
void insert_index_entries(Relation table, HeapTuple tuple);

}  // namespace coord::pg
