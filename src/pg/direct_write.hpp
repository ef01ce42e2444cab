// Writes to the extension's hot tables without an executor plan: the index
// entries of a new row version. Planning and starting an SPI statement costs
// more than the rest of a hot call; this does the same work under the same
// rules. Call it inside pg_call (guard.hpp), with `table` opened with
// RowExclusiveLock.
// (The same file on the ledger branch also holds insert_unless_key_exists;
// the two declarations here are identical to its.)
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "utils/rel.h"
}

namespace coord::pg {

// True when a write to `table` must go through the executor, because the
// executor would do more than write the row and its index entries: the
// table has triggers (foreign keys included), CHECK constraints or generated
// columns (an administrator may add them; the extension's hot tables have
// none).
bool insert_needs_executor(Relation table);

// Index entries in every index of `table` for its new row version `tuple`
// (one that is not heap-only, see HeapTupleIsHeapOnly), with the unique
// checks of those indexes.
void insert_index_entries(Relation table, HeapTuple tuple);

}  // namespace coord::pg
