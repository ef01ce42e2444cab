// Helpers for the hot paths that read a row through its index without the
// executor (leases, ledger replays, routing). Call them inside pg_call.
#pragma once

#include "pg/pg_headers.hpp"

extern "C" {
#include "access/skey.h"
}

namespace coord::pg {

// Sets every scan key (sk_attno: a table column, as systable_beginscan
// expects) to the collation of the index column built on that column. A btree is
// searched in the order it was built in (the column's collation); a key
// left at ScanKeyInit's default (C) misses rows under any other collation.
void use_index_collations(ScanKeyData* keys, int nkeys, Oid index_oid);

}  // namespace coord::pg
