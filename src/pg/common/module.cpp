// The library's load hook: PG_MODULE_MAGIC and _PG_init.
#include "pg/queue/queue_settings.hpp"  // core headers before PostgreSQL
#include "pg/common/module.hpp"
#include "pg/metrics/metrics.hpp"

#include "pg/common/guard.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
    // _PG_init may raise (duplicate GUC names, ...): nothing C++ is alive here.
    coord::pg::shard_init();  // shard migrations: migration_lag GUC
    coord::pg::define_waiting();
    coord::pg::define_memory_leases();
    coord::pg::define_election();  // leader_wait's condition variables, commit-time wake-ups
    coord::pg::collab_init();  // collaborative documents: coord.doc_retention
    coord::pg::metrics::define_metrics();  // counters and gauges (shared memory when preloaded)
    coord::pg::queue_init();  // task queue and sweep GUCs; the background worker when preloaded
}
