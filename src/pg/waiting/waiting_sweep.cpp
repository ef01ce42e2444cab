// The waiting feature's sweep step (coord.sweep() and every background-worker
// sweep): check the whole wait-for graph of the database and break every
// cycle (a waiter checks only cycles through itself, and only while it
// waits; a cycle closed by a grant rather than by a new wait is found here),
// return hand-offs whose waiter left before taking them (waiting.hpp),
// write pending deadlock records, and keep the lease_queue_deep alerts equal
// to the names more than coord.queue_depth_alert owners wait for.
#include "core/common/json.hpp"
#include "core/waiting/wait_graph.hpp"
#include "pg/sweep/alerts.hpp"
#include "pg/common/datum.hpp"
#include "pg/sweep/sweep.hpp"
#include "pg/waiting/waiting.hpp"

namespace coord::pg {

namespace {

std::string timestamp_text(Micros t) {
    const char* text = pg_call([&] { return timestamptz_to_str(t); });
    return text;
}

void waiting_step(SweepContext& ctx) {
    ctx.counts.emplace_back("deadlocks_broken", detect_all_deadlocks(ctx.spi));
    ctx.counts.emplace_back("handoffs_returned", return_orphaned_handoffs(ctx.spi));
    const int threshold = queue_depth_alert_threshold();
    std::vector<FiringAlert> firing;
    for (const QueueDepth& q : queue_depths()) {
        if (q.owners <= threshold) continue;
        firing.push_back({q.name, fmt::format(R"({{"waiting_owners": {}, "threshold": {}, "oldest_waiting_since": "{}"}})",
                                              q.owners, threshold, json_escape(timestamp_text(q.oldest_since)))});
    }
    AlertSyncCounts c = sync_alerts_counted(ctx.spi, "lease_queue_deep", firing);
    ctx.counts.emplace_back("lease_queue_deep_raised", c.raised);
    ctx.counts.emplace_back("lease_queue_deep_resolved", c.resolved);
}

SweepStepRegistration waiting_registration("waiting", &waiting_step);

}  // namespace

}  // namespace coord::pg
