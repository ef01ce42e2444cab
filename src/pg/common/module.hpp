// What each feature registers when the library is loaded. _PG_init calls
// these; a feature adds its own line here and in module.cpp.
#pragma once

namespace coord::pg {

// Shard migrations: the coord.migration_lag_alert_after GUC (src/pg/shards/shard_alerts.cpp).
void shard_init();
// Waiting for leases (waiting.cpp): GUCs, shared memory, xact callback.
void define_waiting();
// Memory leases (src/pg/leases/memory_table.cpp): GUC, shared memory, xact callback.
void define_memory_leases();
// Leader election (src/pg/election/election_wakeup.cpp): leader_wait's wake-ups.
void define_election();
// Collaborative documents (src/pg/collab/collab_sweep.cpp): the coord.doc_retention GUC.
void collab_init();

}  // namespace coord::pg
