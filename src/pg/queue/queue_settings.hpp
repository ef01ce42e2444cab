// GUCs of the task queue, the sweep and the background worker (README,
// "Background worker and alerts"). Defined in every backend so that SHOW
// and coord.sweep() see them; the worker is registered only while
// shared_preload_libraries is processed.
#pragma once

#include "core/common/time.hpp"

namespace coord::pg {

// Called from _PG_init: defines the GUCs and, when preloaded, registers the
// background worker.
void queue_init();

// Registers the background worker (bgworker/worker.cpp); only valid while
// shared_preload_libraries is processed.
void register_sweeper();

// Current values (session values in a backend, postgresql.conf in the worker).
const char* worker_database();
Micros sweep_interval();
Micros lease_alert_after();
Micros task_stuck_alert_after();
Micros completed_retention();

}  // namespace coord::pg
