// coord.metrics() and coord.queue_stats (metrics.hpp): answered from shared
// memory, plus index probes bounded by the number of queues, priorities and
// processing tasks, never a count of the pending backlog.
#include "core/common/error.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/metrics/pending_probe.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/spi.hpp"
#include "pg/queue/queue_settings.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "utils/json.h"
#include "utils/jsonb.h"
}

#include <map>

using namespace coord;
using namespace coord::pg;

namespace {

Datum labels_datum(const std::vector<std::pair<const char*, std::string>>& labels) {
    return pg_call([&] {
        StringInfoData buf;
        initStringInfo(&buf);
        appendStringInfoChar(&buf, '{');
        bool first = true;
        for (const auto& [key, value] : labels) {
            if (!first) appendStringInfoString(&buf, ", ");
            first = false;
            escape_json(&buf, key);
            appendStringInfoString(&buf, ": ");
            escape_json(&buf, value.c_str());
        }
        appendStringInfoChar(&buf, '}');
        return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
    });
}

void metric_row(FunctionCallInfo fcinfo, const char* metric,
                const std::vector<std::pair<const char*, std::string>>& labels, double value) {
    Datum values[3] = {text_datum(metric), labels_datum(labels), Float8GetDatum(value)};
    bool nulls[3] = {false, false, false};
    add_result_row(fcinfo, values, nulls);
}

const char* kCounterMetrics[] = {
    "coord_lease_acquisitions_total", "coord_lease_takeovers_total", "coord_fence_rejections_total",
    "coord_deadlocks_total",          "coord_sweeps_total",          "coord_sweeps_failed_total",
};

void require_metrics_available() {
    if (!metrics::available())
        throw Error(sqlstate::object_not_in_prerequisite_state,
                    "coord.metrics() needs pg_coord in shared_preload_libraries",
                    "The counters live in shared memory, which pg_coord can only reserve when the "
                    "server loads it at start.",
                    "Add pg_coord to shared_preload_libraries and restart the server.");
}

}  // namespace

COORD_FUNCTION(coord_metrics) {
    require_metrics_available();
    metrics::Snapshot s = metrics::read_snapshot();
    int waiters = 0;
    if (waiting_available())
        for (const QueueDepth& d : queue_depths()) waiters += d.owners;
    begin_result_set(fcinfo);
    for (int c = 0; c < static_cast<int>(metrics::Counter::count_); ++c)
        metric_row(fcinfo, kCounterMetrics[c], {}, static_cast<double>(s.counters[c]));
    for (const metrics::QueueSnapshot& q : s.queues)
        for (int c = 0; c < metrics::kTaskCounters; ++c)
            metric_row(fcinfo, fmt::format("coord_tasks_{}_total", metrics::kTaskCounterNames[c]).c_str(),
                       {{"queue", q.queue}}, static_cast<double>(q.counters[c]));
    metric_row(fcinfo, "coord_gauges_valid", {}, s.gauges_valid ? 1 : 0);
    if (s.gauges_valid) {
        for (const metrics::QueueSnapshot& q : s.queues) {
            const std::int64_t* g = q.gauges;
            std::int64_t due = std::max<std::int64_t>(0, g[metrics::g_pending] - g[metrics::g_later]);
            metric_row(fcinfo, "coord_tasks_pending", {{"queue", q.queue}}, static_cast<double>(g[metrics::g_pending]));
            metric_row(fcinfo, "coord_tasks_due", {{"queue", q.queue}}, static_cast<double>(due));
            metric_row(fcinfo, "coord_tasks_processing", {{"queue", q.queue}},
                       static_cast<double>(g[metrics::g_processing]));
            metric_row(fcinfo, "coord_tasks_retained", {{"queue", q.queue}, {"state", "complete"}},
                       static_cast<double>(g[metrics::g_complete]));
            metric_row(fcinfo, "coord_tasks_retained", {{"queue", q.queue}, {"state", "dead"}},
                       static_cast<double>(g[metrics::g_dead]));
            metric_row(fcinfo, "coord_tasks_retained", {{"queue", q.queue}, {"state", "cancelled"}},
                       static_cast<double>(g[metrics::g_cancelled]));
        }
    }
    if (s.last_sweep_at != 0) {
        metric_row(fcinfo, "coord_last_sweep_timestamp_seconds", {},
                   static_cast<double>(s.last_sweep_at) / 1e6 + 946684800.0);  // PostgreSQL epoch 2000
        metric_row(fcinfo, "coord_last_sweep_duration_seconds", {},
                   static_cast<double>(s.last_sweep_duration) / 1e6);
    }
    metric_row(fcinfo, "coord_lease_waiters", {}, waiters);
    return Datum(0);
}

COORD_FUNCTION(coord_queue_stats_rows) {
    metrics::Snapshot s{};
    if (metrics::available()) s = metrics::read_snapshot();
    Micros now = now_micros();
    Spi spi;
    begin_result_set(fcinfo);
    if (!s.gauges_valid) {
        // No shared memory, or not counted yet since the server started:
        // count the tables.
        static Statement counted(
            "WITH active AS ("
            "  SELECT t.queue, count(*) FILTER (WHERE t.state = 'pending') AS pending, "
            "         count(*) FILTER (WHERE t.state = 'pending' AND t.run_at <= $1) AS due, "
            "         count(*) FILTER (WHERE t.state = 'processing') AS processing, "
            "         count(*) FILTER (WHERE t.state = 'dead') AS dead, "
            "         $1 - min(t.run_at) FILTER (WHERE t.state = 'pending' AND t.run_at <= $1) AS oldest, "
            "         count(*) FILTER (WHERE t.state = 'processing' AND t.claimed_at < $1 - $2) AS stuck "
            "  FROM coord.tasks t GROUP BY t.queue), "
            "done AS (SELECT c.queue, count(*) AS complete FROM coord.tasks_complete c GROUP BY c.queue) "
            "SELECT COALESCE(a.queue, d.queue), COALESCE(a.pending, 0), COALESCE(a.due, 0), "
            "       COALESCE(a.processing, 0), COALESCE(d.complete, 0), COALESCE(a.dead, 0), a.oldest, "
            "       COALESCE(a.stuck, 0) "
            "FROM active a FULL JOIN done d ON d.queue = a.queue ORDER BY 1",
            {TIMESTAMPTZOID, INTERVALOID});
        std::uint64_t n = spi.run(counted, {timestamptz_param(now), interval_param(task_stuck_alert_after())});
        for (std::uint64_t i = 0; i < n; ++i) {
            Row r = spi.row(i);
            Datum values[8];
            bool nulls[8] = {};
            values[0] = text_datum(*r.get_text(1));
            for (int c = 2; c <= 6; ++c) values[c - 1] = Int64GetDatum(r.get_int64(c).value_or(0));
            std::optional<Datum> oldest = r.get_datum_copy(7, spi.caller_context());
            if (oldest) values[6] = *oldest; else nulls[6] = true;
            values[7] = Int64GetDatum(r.get_int64(8).value_or(0));
            add_result_row(fcinfo, values, nulls);
        }
        return Datum(0);
    }
    // From shared memory; the age of the oldest due task is one index probe
    // per (queue, priority), the stuck ones a look at the processing tasks.
    std::vector<std::string> queues;
    for (const metrics::QueueSnapshot& q : s.queues) {
        bool any = false;
        for (int g = 0; g < metrics::kTaskGauges; ++g)
            if (g != metrics::g_later && q.gauges[g] != 0) any = true;
        if (any) queues.push_back(q.queue);
    }
    static Statement stuck(
        "SELECT queue, count(*) FROM coord.tasks WHERE state = 'processing' AND claimed_at < $1 - $2 "
        "GROUP BY queue",
        {TIMESTAMPTZOID, INTERVALOID});
    std::map<std::string, Datum> oldest_of;
    std::map<std::string, std::int64_t> stuck_of;
    for (const std::string& q : queues) {
        std::optional<Micros> at = metrics::oldest_due(spi, q, metrics::pending_priorities(spi, q), now);
        if (at) oldest_of[q] = interval_datum(now - *at);  // used while spi is open
    }
    std::uint64_t n = spi.run(stuck, {timestamptz_param(now), interval_param(task_stuck_alert_after())});
    for (std::uint64_t i = 0; i < n; ++i) stuck_of[*spi.row(i).get_text(1)] = spi.row(i).get_int64(2).value_or(0);
    for (const metrics::QueueSnapshot& q : s.queues) {
        bool listed = false;
        for (const std::string& name : queues) listed = listed || name == q.queue;
        if (!listed) continue;
        const std::int64_t* g = q.gauges;
        Datum values[8];
        bool nulls[8] = {};
        values[0] = text_datum(q.queue);
        values[1] = Int64GetDatum(g[metrics::g_pending]);
        values[2] = Int64GetDatum(std::max<std::int64_t>(0, g[metrics::g_pending] - g[metrics::g_later]));
        values[3] = Int64GetDatum(g[metrics::g_processing]);
        values[4] = Int64GetDatum(g[metrics::g_complete]);
        values[5] = Int64GetDatum(g[metrics::g_dead]);
        auto o = oldest_of.find(q.queue);
        if (o != oldest_of.end()) values[6] = o->second; else nulls[6] = true;
        auto st = stuck_of.find(q.queue);
        values[7] = Int64GetDatum(st != stuck_of.end() ? st->second : 0);
        add_result_row(fcinfo, values, nulls);
    }
    return Datum(0);
}
