// Writes to the extension's hot tables without an executor plan: the one
// predicate that says when a direct write is allowed, rows formed by column
// map, a row inserted unless its key exists (INSERT ... ON CONFLICT (key) DO
// NOTHING, through PostgreSQL's own speculative insertion), and the index
// entries of a new row version. Planning and starting an SPI statement costs
// more than the rest of a hot call; these do the same work under the same
// concurrency rules. Call them inside pg_call (guard.hpp), with `table`
// opened with RowExclusiveLock.
#pragma once

#include "pg/common/pg_headers.hpp"
#include "pg/common/relation_layout.hpp"

namespace coord::pg {

// May `table` be written directly (heap_insert/heap_update/heap_delete
// without an executor plan) for `command`, by a writer whose columns are
// `map`? Only when the write would do all that the executor's would:
//  * the layout still matches the map (relation_layout.hpp), and for an
//    insert there are no columns outside it to fill with their defaults;
//  * no trigger for the command (statement or row level, foreign-key
//    triggers included), no CHECK constraint and no generated column for an
//    insert or update, no row-level security, a heap table;
//  * for an update or delete, what CheckCmdReplicaIdentity requires of a
//    published table (a replica identity, row filters and column lists it
//    covers).
// Otherwise the writer runs its SQL, and the executor does (or refuses) the
// rest. NOT NULL constraints the writers check themselves. Cached with the
// layout: a hot call costs a few comparisons. Inside pg_call.
bool may_write_directly(Relation table, ColumnMap& map, WriteCommand command);

// The part of may_write_directly that does not depend on the map, for the
// layout cache (uncached: call may_write_directly). Inside pg_call.
bool executor_needed(Relation table, WriteCommand command);

// A row of `table` formed by a direct writer: every column (in table order,
// dropped ones included) NULL and unchanged until set. palloc'd, inside pg_call.
struct RowValues {
    Datum* values;
    bool* nulls;
    bool* replace;  // the columns set (for modified_row)
};
RowValues new_row_values(Relation table);
inline void set_column(RowValues& row, AttrNumber attnum, Datum value) {
    row.values[attnum - 1] = value;
    row.nulls[attnum - 1] = false;
    row.replace[attnum - 1] = true;
}
inline void set_column_null(RowValues& row, AttrNumber attnum) {
    row.nulls[attnum - 1] = true;
    row.replace[attnum - 1] = true;
}

// The NOT NULL constraints of `table` for a row whose NULL columns are
// `nulls` (in table order), as ExecConstraints checks them: 23502.
void require_not_null(Relation table, const bool* nulls);

// The new version of the row `old` for an update: the columns set in `row`
// replaced, every other one (an administrator's extra column included)
// keeping its value, after the NOT NULL checks the executor would make.
HeapTuple modified_row(Relation table, HeapTuple old, const RowValues& row);

// Inserts the row `values`/`nulls` (every column, in table order, as
// new_row_values makes them) unless a
// row with the same key in the unique index `key_index` exists, for a caller
// that has just found the key free with find_unique_key_row (index_lookup.hpp).
// As with ON CONFLICT DO NOTHING, an insert of the same key by a transaction
// still in progress is waited for: true when this call inserted the row;
// false when a committed row (or one of this transaction) has the key. Under
// REPEATABLE READ or SERIALIZABLE, a conflicting row that this transaction's
// snapshot cannot see raises 40001, as ON CONFLICT does. Fires no triggers
// and checks no constraints besides NOT NULL and the indexes' (see
// may_write_directly).
bool insert_unless_key_exists(Relation table, Oid key_index, const Datum* values,
                              const bool* nulls);

// Index entries in every index of `table` for its new row version `tuple`
// (one that is not heap-only, see HeapTupleIsHeapOnly), with the unique
// checks of those indexes.
void insert_index_entries(Relation table, HeapTuple tuple);

}  // namespace coord::pg
