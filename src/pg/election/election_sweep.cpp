// Sweep step "election_expiry": announces (NOTIFY coord_leader) the end of
// every term whose lease lapsed without a resignation, once. A campaign
// that takes over announces the new term itself; this step covers the
// elections where nobody (yet) took over. Compare-and-set: the record is
// marked only if it still describes that term and no end was announced.
#include "core/election/election.hpp"
#include "pg/common/datum.hpp"
#include "pg/election/election_store.hpp"
#include "pg/leases/leases.hpp"
#include "pg/sweep/sweep.hpp"

namespace coord::pg {

namespace {

void announce_expired_terms(SweepContext& ctx) {
    // Candidates only; the core decides on each.
    static Statement candidates(
        "SELECT e.election, e.term, e.leader, l.owner, l.token, l.acquired_at, l.expires_at "
        "FROM coord.election_state e "
        "LEFT JOIN coord.lease_state l ON l.name = 'election:' OPERATOR(pg_catalog.||) e.election "
        "WHERE e.ended IS NULL AND (l.owner IS NULL OR l.token <> e.term OR l.expires_at <= $1) "
        // A record another transaction is changing (a campaign in progress,
        // a sweep left open) waits for the next sweep (sweep.hpp).
        "FOR UPDATE OF e SKIP LOCKED",
        {TIMESTAMPTZOID});
    struct Ended {
        std::string election;
        Term term;
        Micros ended_at;
    };
    std::vector<Ended> ended;
    ctx.spi.run(candidates, {timestamptz_param(ctx.now)});
    for (std::uint64_t i = 0; i < ctx.spi.rows(); ++i) {
        Row row = ctx.spi.row(i);
        ElectionRecord record{row.get_int64(2).value_or(0), row.get_text(3).value_or(""), 0, false};
        std::optional<LeaseRecord> lease;
        if (row.get_int64(5)) {
            LeaseRecord l;
            l.owner = row.get_text(4);
            l.token = *row.get_int64(5);
            l.acquired_at = row.get_timestamptz(6).value_or(0);
            l.expires_at = row.get_timestamptz(7).value_or(0);
            lease = l;
        }
        if (!term_end_unannounced(record, lease, ctx.now)) continue;
        Micros ended_at = lease && lease->owner && lease->token == record.term
                              ? std::min(lease->expires_at, ctx.now)
                              : ctx.now;
        ended.push_back({*row.get_text(1), record.term, ended_at});
    }
    std::int64_t announced = 0;
    for (const Ended& e : ended) {
        if (!mark_end_announced(ctx.spi, e.election, e.term, "expired", e.ended_at)) continue;
        announce(e.election, LeaderEvent::expired, "", e.term);
        ++announced;
    }
    ctx.counts.emplace_back("election_terms_expired", announced);
}

SweepStepRegistration registration("election_expiry", &announce_expired_terms);

}  // namespace

}  // namespace coord::pg
