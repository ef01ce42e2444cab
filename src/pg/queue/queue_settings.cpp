#include "pg/queue/queue_settings.hpp"
#include "pg/common/guard.hpp"

#include <climits>

namespace coord::pg {

namespace {

char* database_setting = nullptr;
int sweep_interval_ms = 1000;
int lease_alert_after_s = 2 * 3600;
int task_stuck_alert_after_s = 30 * 60;
int completed_retention_s = 7 * 24 * 3600;

}  // namespace

void queue_init() {
    DefineCustomStringVariable(
        "coord.database", "Database the pg_coord background worker sweeps.",
        "The extension must be installed there; until it is, the worker idles and checks again "
        "every sweep interval. On a reload that changes it the worker restarts to connect there.",
        // Not PGC_POSTMASTER: such a GUC can only be defined while preloading,
        // and the library must also load (and define its GUCs) without that.
        &database_setting, "postgres", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "coord.sweep_interval", "Time between two sweeps of the pg_coord background worker.",
        "Also the longest any sweep waits for another one before it runs alongside it.",
        &sweep_interval_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
        nullptr, nullptr);
    DefineCustomIntVariable(
        "coord.lease_alert_after",
        "A lease held longer than this raises a lease_held_too_long alert.", nullptr,
        &lease_alert_after_s, 2 * 3600, 1, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "coord.task_stuck_alert_after",
        "A task processing (claimed) longer than this raises a task_stuck alert.", nullptr,
        &task_stuck_alert_after_s, 30 * 60, 1, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr,
        nullptr);
    DefineCustomIntVariable(
        "coord.completed_retention",
        "Completed tasks and their attempt history are pruned this long after completion.", nullptr,
        &completed_retention_s, 7 * 24 * 3600, 0, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr,
        nullptr);
    if (process_shared_preload_libraries_in_progress) register_sweeper();
}

const char* worker_database() { return database_setting ? database_setting : "postgres"; }
Micros sweep_interval() { return Micros{sweep_interval_ms} * 1000; }
Micros lease_alert_after() { return Micros{lease_alert_after_s} * kMicrosPerSecond; }
Micros task_stuck_alert_after() { return Micros{task_stuck_alert_after_s} * kMicrosPerSecond; }
Micros completed_retention() { return Micros{completed_retention_s} * kMicrosPerSecond; }

}  // namespace coord::pg
