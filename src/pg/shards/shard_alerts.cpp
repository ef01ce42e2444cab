// The migration_lag alert: a sweep step (coord.sweep() and the background
// worker) that keeps one open alert per active migration whose lag_seconds
// (view coord.migrations) exceeds coord.migration_lag_alert_after, and
// resolves it when the target catches up or the migration ends.
#include "core/common/time.hpp"
#include "pg/sweep/alerts.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/module.hpp"
#include "pg/sweep/sweep.hpp"

#include <climits>

namespace coord::pg {

namespace {

int migration_lag_alert_after_ms = 10 * 1000;

void migration_lag_step(SweepContext& ctx) {
    static Statement lagging(
        "SELECT id::text, pg_catalog.jsonb_build_object('migration_id', id, 'shard', shard, "
        "'source', source, 'target', target, 'phase', phase, 'source_version', source_version, "
        "'target_version', target_version, 'lag_versions', lag_versions, "
        "'lag_seconds', round(lag_seconds::numeric, 3), 'alert_after_seconds', round($1 / 1000.0, 3))::text "
        "FROM coord.migrations WHERE lag_seconds * 1000 > $1 ORDER BY id",
        {INT8OID});
    std::uint64_t n = ctx.spi.run(lagging, {int64_param(migration_lag_alert_after_ms)});
    std::vector<FiringAlert> firing;
    for (std::uint64_t i = 0; i < n; ++i) {
        Row row = ctx.spi.row(i);
        firing.push_back(FiringAlert{row.get_text(1).value_or(""), row.get_text(2).value_or("{}")});
    }
    AlertSyncCounts counts = sync_alerts_counted(ctx.spi, "migration_lag", firing);
    ctx.counts.emplace_back("migration_lag_firing", static_cast<std::int64_t>(firing.size()));
    ctx.counts.emplace_back("migration_lag_raised", counts.raised);
    ctx.counts.emplace_back("migration_lag_resolved", counts.resolved);
}

SweepStepRegistration registration("migration_lag", &migration_lag_step);

}  // namespace

void shard_init() {
    DefineCustomIntVariable(
        "coord.migration_lag_alert_after",
        "A shard migration whose lag_seconds exceeds this raises a migration_lag alert.",
        "lag_seconds as in the view coord.migrations; the alert resolves when it falls back.",
        &migration_lag_alert_after_ms, 10 * 1000, 0, INT_MAX, PGC_SUSET, GUC_UNIT_MS, nullptr,
        nullptr, nullptr);
}

}  // namespace coord::pg
