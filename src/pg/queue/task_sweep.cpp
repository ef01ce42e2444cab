// Sweep steps of the task queue and the lease alerts (run by coord.sweep()
// and the background worker, in name order: "leases" then "tasks").
#include "pg/sweep/alerts.hpp"
#include "pg/common/datum.hpp"
#include "pg/queue/queue_settings.hpp"
#include "pg/sweep/sweep.hpp"
#include "pg/queue/task_store.hpp"

namespace coord::pg {

namespace {

constexpr long kRequeueBatch = 1000;   // per sweep; the rest next sweep
constexpr long kPruneBatch = 10000;

std::vector<FiringAlert> firing_from(Spi& spi, Statement& query, std::initializer_list<Param> params) {
    std::vector<FiringAlert> firing;
    std::uint64_t n = spi.run(query, params);
    firing.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i)
        firing.push_back(FiringAlert{spi.row(i).get_text(1).value_or(""),
                                     spi.row(i).get_text(2).value_or("{}")});
    return firing;
}

void sync_counted(SweepContext& ctx, const char* kind, const std::vector<FiringAlert>& firing) {
    AlertSyncCounts c = sync_alerts_counted(ctx.spi, kind, firing);
    ctx.counts.emplace_back(fmt::format("{}_raised", kind), c.raised);
    ctx.counts.emplace_back(fmt::format("{}_resolved", kind), c.resolved);
}

void lease_step(SweepContext& ctx) {
    static Statement held_too_long(
        // Not the token: coord_user members read the alerts, and a role sees
        // only its own holdings' tokens (coord.leases).
        "SELECT name, pg_catalog.json_build_object('owner', owner, 'holder_role', holder_role, "
        "  'acquired_at', acquired_at, 'expires_at', expires_at, 'held_for', $1 - acquired_at)::text "
        "FROM coord.lease_state "
        "WHERE owner IS NOT NULL AND expires_at > $1 AND acquired_at < $2 ORDER BY name",
        {TIMESTAMPTZOID, TIMESTAMPTZOID});
    sync_counted(ctx, "lease_held_too_long",
                 firing_from(ctx.spi, held_too_long,
                             {timestamptz_param(ctx.now), timestamptz_param(ctx.now - lease_alert_after())}));
}

void task_step(SweepContext& ctx) {
    auto [requeued, dead] = requeue_expired_claims(ctx.spi, ctx.now, kRequeueBatch);
    ctx.counts.emplace_back("tasks_requeued", requeued);
    ctx.counts.emplace_back("tasks_dead_lettered", dead);
    ctx.counts.emplace_back("queues_due", announce_due_queues(ctx.spi, ctx.now));
    ctx.counts.emplace_back("tasks_pruned",
                            prune_completed(ctx.spi, ctx.now, kPruneBatch));

    static Statement stuck(
        "SELECT id::text, pg_catalog.json_build_object('queue', queue, 'worker', worker, "
        "  'attempt', attempts, 'execution_id', execution_id, 'claimed_at', claimed_at, "
        "  'lease_expires_at', lease_expires_at, 'processing_for', $1 - claimed_at)::text "
        "FROM coord.tasks WHERE state = 'processing' AND claimed_at < $2 ORDER BY id",
        {TIMESTAMPTZOID, TIMESTAMPTZOID});
    sync_counted(ctx, "task_stuck",
                 firing_from(ctx.spi, stuck,
                             {timestamptz_param(ctx.now), timestamptz_param(ctx.now - task_stuck_alert_after())}));

    // Not the last error: every coord_user reads the alerts (and any role
    // can LISTEN coord_alerts), while a task's errors are for the roles that
    // may read the task (coord.task()).
    static Statement dead_tasks(
        "SELECT id::text, pg_catalog.json_build_object('queue', queue, 'attempts', attempts, "
        "  'max_attempts', max_attempts, 'died_at', finished_at)::text "
        "FROM coord.tasks WHERE state = 'dead' ORDER BY id",
        {});
    sync_counted(ctx, "task_dead", firing_from(ctx.spi, dead_tasks, {}));
}

SweepStepRegistration lease_registration("leases", &lease_step);
SweepStepRegistration task_registration("tasks", &task_step);

}  // namespace

}  // namespace coord::pg
