#include "core/alerts/alerts.hpp"
#include "pg/sweep/alerts.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/lock_wait.hpp"

namespace coord::pg {

namespace {

void log_alert(const char* event, std::string_view kind, const std::string& subject,
               const std::string& detail) {
    std::string message = fmt::format("pg_coord alert {}: {} \"{}\" {}", event, kind, subject, detail);
    const char* text = message.c_str();
    pg_call([&] { elog(LOG, "%s", text); });
}

}  // namespace

AlertSyncCounts sync_alerts_counted(Spi& spi, std::string_view kind,
                                    const std::vector<FiringAlert>& firing) {
    // Nothing here waits for another transaction (another sweep may have
    // raised or resolved one of these alerts and not committed yet; a
    // coord.sweep() can stay open for hours): the open alerts are read
    // without a lock, a resolve skips a row that is locked, and a raise
    // gives up at once when the same alert is being inserted. Whatever was
    // skipped is decided again by the next sweep.
    static Statement open_alerts(
        "SELECT subject FROM coord.alerts WHERE kind = $1 AND resolved_at IS NULL ORDER BY subject",
        {TEXTOID});
    // PostgreSQL has no privilege for LISTEN: any role that can connect
    // receives the payload. So it names the alert (id, kind, event, times)
    // and nothing more; subject and detail (lease names, owners, workers,
    // queues) are read from coord.alerts, which only coord_user may.
    static Statement raise(
        "WITH a AS (INSERT INTO coord.alerts (kind, subject, detail) "
        "           VALUES ($1, $2, COALESCE(NULLIF($3, '')::jsonb, '{}')) "
        "           ON CONFLICT (kind, subject) WHERE resolved_at IS NULL DO NOTHING "
        "           RETURNING *) "
        "SELECT a.detail::text, pg_catalog.pg_notify('coord_alerts', "
        "       pg_catalog.json_build_object('event', 'raised', 'id', a.id, 'kind', a.kind, "
        "         'raised_at', a.raised_at)::text) "
        "FROM a",
        {TEXTOID, TEXTOID, TEXTOID});
    // After the server clock stepped back, an alert can have been raised
    // "later" than now: it resolves at its raised_at (never before it, which
    // alerts_resolved_after_raised forbids and would fail the whole step).
    static Statement resolve(
        "WITH a AS (UPDATE coord.alerts "
        "           SET resolved_at = GREATEST(pg_catalog.clock_timestamp(), raised_at) "
        "           WHERE id = (SELECT id FROM coord.alerts "
        "                       WHERE kind = $1 AND subject = $2 AND resolved_at IS NULL "
        "                       FOR UPDATE SKIP LOCKED) "
        "           RETURNING *) "
        "SELECT a.detail::text, pg_catalog.pg_notify('coord_alerts', "
        "       pg_catalog.json_build_object('event', 'resolved', 'id', a.id, 'kind', a.kind, "
        "         'raised_at', a.raised_at, 'resolved_at', a.resolved_at)::text) "
        "FROM a",
        {TEXTOID, TEXTOID});

    std::vector<std::string_view> firing_subjects;
    firing_subjects.reserve(firing.size());
    for (const FiringAlert& f : firing) firing_subjects.push_back(f.subject);

    std::vector<std::string> open;
    std::uint64_t n = spi.run(open_alerts, {text_param(kind)});
    open.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) open.push_back(spi.row(i).get_text(1).value_or(""));

    AlertPlan plan = plan_alerts(kind, open, firing_subjects);
    AlertSyncCounts counts;
    for (std::size_t index : plan.raise) {
        const FiringAlert& f = firing[index];
        bool raised = false;
        std::string detail;
        with_lock_wait_limit(kShortestLockWait, [&] {
            if (spi.run(raise, {text_param(kind), text_param(f.subject), text_param(f.detail_json)}) != 1)
                return;
            raised = true;
            detail = spi.first_row()->get_text(1).value_or("{}");
        });
        if (raised) {
            ++counts.raised;
            log_alert("raised", kind, f.subject, detail);
        }
    }
    for (const std::string& subject : plan.resolve) {
        if (spi.run(resolve, {text_param(kind), text_param(subject)}) == 1) {
            ++counts.resolved;
            log_alert("resolved", kind, subject, "");
        }
    }
    return counts;
}

void sync_alerts(Spi& spi, std::string_view kind, const std::vector<FiringAlert>& firing) {
    sync_alerts_counted(spi, kind, firing);
}

}  // namespace coord::pg
