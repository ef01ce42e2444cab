// The sweep's part of the metrics (metrics.hpp): the count of the task
// tables that makes the per-queue gauges valid (once after the server
// started, or after a TRUNCATE or a new CREATE EXTENSION), and, every sweep,
// how many pending tasks are not due yet (due = pending - that).
#include "pg/metrics/metrics.hpp"
#include "pg/metrics/pending_probe.hpp"
#include "pg/common/datum.hpp"
#include "pg/sweep/sweep.hpp"

namespace coord::pg {

namespace {

// Pending tasks not yet due are counted up to this many per queue (the
// count reads only their index entries; due is pending minus it).
constexpr long kMaxLaterCounted = 100000;

void count_gauges(SweepContext& ctx) {
    // No writer of the task tables is in flight while they are counted: each
    // one applied its deltas before its table lock was released, so the
    // count replaces them exactly, and later commits add to it.
    ctx.spi.run_sql("LOCK TABLE coord.tasks, coord.tasks_complete IN SHARE MODE");
    static Statement count(
        "SELECT queue, count(*) FILTER (WHERE state = 'pending'), "
        "       count(*) FILTER (WHERE state = 'pending' AND run_at > $1), "
        "       count(*) FILTER (WHERE state = 'processing'), 0::pg_catalog.int8, "
        "       count(*) FILTER (WHERE state = 'dead'), count(*) FILTER (WHERE state = 'cancelled') "
        "FROM coord.tasks GROUP BY queue "
        "UNION ALL "
        "SELECT queue, 0, 0, 0, count(*), 0, 0 FROM coord.tasks_complete GROUP BY queue",
        {TIMESTAMPTZOID});
    std::uint64_t n = ctx.spi.run(count, {timestamptz_param(ctx.now)});
    std::vector<metrics::QueueCount> counts;
    for (std::uint64_t i = 0; i < n; ++i) {
        Row r = ctx.spi.row(i);
        std::string queue = r.get_text(1).value_or("");
        metrics::QueueCount* c = nullptr;
        for (metrics::QueueCount& have : counts)
            if (have.queue == queue) c = &have;
        if (c == nullptr) {
            counts.push_back(metrics::QueueCount{queue, {}});
            c = &counts.back();
        }
        for (int g = 0; g < metrics::kTaskGauges; ++g) c->gauges[g] += r.get_int64(g + 2).value_or(0);
    }
    metrics::set_gauges(counts);
}

void count_later(SweepContext& ctx) {
    static Statement queues("SELECT queue FROM coord.queue_state", {});
    std::uint64_t n = ctx.spi.run(queues, {});
    std::vector<std::string> names;
    for (std::uint64_t i = 0; i < n; ++i) names.push_back(ctx.spi.row(i).get_text(1).value_or(""));
    for (const std::string& q : names)
        metrics::set_later(q, metrics::pending_later(ctx.spi, q, metrics::pending_priorities(ctx.spi, q),
                                                     ctx.now, kMaxLaterCounted));
}

void metrics_step(SweepContext& ctx) {
    if (!metrics::available()) return;
    if (metrics::gauges_need_count()) count_gauges(ctx);
    count_later(ctx);
}

SweepStepRegistration metrics_registration("metrics", &metrics_step);

}  // namespace

}  // namespace coord::pg
