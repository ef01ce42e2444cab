#include "pg/index_lookup.hpp"

extern "C" {
#include "access/genam.h"
#include "catalog/pg_index.h"
#include "utils/rel.h"
}

namespace coord::pg {

void use_index_collations(ScanKeyData* keys, int nkeys, Oid index_oid) {
    Relation index = index_open(index_oid, AccessShareLock);
    // Before systable_beginscan a key names a table column (sk_attno); find
    // the index column built on it.
    for (int i = 0; i < nkeys; ++i)
        for (int column = 0; column < index->rd_index->indnkeyatts; ++column)
            if (index->rd_index->indkey.values[column] == keys[i].sk_attno)
                keys[i].sk_collation = index->rd_indcollation[column];
    index_close(index, AccessShareLock);
}

}  // namespace coord::pg
