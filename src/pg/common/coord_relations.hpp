// The extension's relations that hot paths open directly (without SQL), by
// OID: looked up by name once per backend and forgotten whenever pg_class or
// pg_namespace changes (DROP/CREATE EXTENSION, a rename, ...), so a call
// costs no catalog look-up. Call inside pg_call.
#pragma once

#include "pg/common/pg_headers.hpp"

namespace coord::pg {

enum class CoordRelation {
    auction_state,
    auction_state_pkey,
    doc_announce,
    doc_position,
    doc_updates,
    doc_updates_held,
    doc_updates_pkey,
    lease_state,
    lease_state_pkey,
    ledger_entries,
    ledger_entries_idempotency_key,
    ledger_entries_entry_id_seq,
    register_state,
    register_state_pkey,
    shard_state,
    shard_state_pkey,
    shard_watermark,
    shard_watermark_pkey,
    tasks,
    tasks_pkey,
    tasks_complete,
    token_allocator,
    token_epoch,
    count
};

// The OID of coord.<relation>; an ERROR when it is missing.
Oid coord_relation_oid(CoordRelation relation);

}  // namespace coord::pg
