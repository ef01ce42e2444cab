#include "pg/common/coord_relations.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace coord::pg {

namespace {

constexpr int kCount = static_cast<int>(CoordRelation::count);
const char* const kNames[kCount] = {
    "auction_state",   "auction_state_pkey",
    "doc_announce",    "doc_position",         "doc_updates",
    "doc_updates_held", "doc_updates_pkey",
    "lease_state",     "lease_state_pkey",     "ledger_entries",
    "ledger_entries_idempotency_key",          "ledger_entries_entry_id_seq",
    "register_state",  "register_state_pkey",
    "shard_state",     "shard_state_pkey",     "shard_watermark",
    "shard_watermark_pkey",
    "tasks",           "tasks_pkey",           "tasks_complete",
    "token_allocator", "token_epoch",
};

Oid cached_oids[kCount];  // InvalidOid: not looked up since the last change
bool invalidation_registered = false;

void forget_relations(Datum, int, uint32) {
    for (Oid& oid : cached_oids) oid = InvalidOid;
}

}  // namespace

Oid coord_relation_oid(CoordRelation relation) {
    if (!invalidation_registered) {
        CacheRegisterSyscacheCallback(RELNAMENSP, forget_relations, Datum(0));
        CacheRegisterSyscacheCallback(NAMESPACENAME, forget_relations, Datum(0));
        invalidation_registered = true;
    }
    int i = static_cast<int>(relation);
    if (!OidIsValid(cached_oids[i])) {
        Oid oid = get_relname_relid(kNames[i], get_namespace_oid("coord", false));
        if (!OidIsValid(oid)) elog(ERROR, "pg_coord: relation coord.%s is missing", kNames[i]);
        cached_oids[i] = oid;
    }
    return cached_oids[i];
}

}  // namespace coord::pg
