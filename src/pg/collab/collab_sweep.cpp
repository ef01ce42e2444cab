// What the background worker does for collaborative documents (every sweep,
// also coord.sweep()):
//  * doc_announce: turns the rows appends left in coord.doc_announce into one
//    NOTIFY coord_doc {"doc", "position"} per document (the highest position
//    delivered since the last sweep), so appends never take the notify queue's
//    lock themselves;
//  * doc_prune: per document, once its newest snapshot that is at least
//    coord.doc_retention old, deletes the delivered updates it covers (each
//    client's last covered update stays: it carries the client's seq) and the
//    snapshots before it; records what was pruned per client in
//    coord.doc_pruned (doc_since then refuses a state vector behind it).
#include "pg/common/module.hpp"
#include "pg/sweep/sweep.hpp"

#include <climits>

namespace coord::pg {

namespace {

int doc_retention_s = 3600;

Micros doc_retention() { return Micros{doc_retention_s} * kMicrosPerSecond; }

void announce_step(SweepContext& ctx) {
    static Statement announce(
        "WITH gone AS (DELETE FROM coord.doc_announce RETURNING doc, position) "
        "SELECT pg_catalog.pg_notify('coord_doc', pg_catalog.json_build_object("
        "  'doc', doc, 'position', pg_catalog.max(position))::text) "
        "FROM gone GROUP BY doc",
        {});
    ctx.counts.emplace_back("docs_announced", static_cast<std::int64_t>(ctx.spi.run(announce, {})));
}

// Every update a snapshot covers was delivered before the snapshot was
// uploaded, so once the snapshot is coord.doc_retention old, so are they:
// per document, the newest snapshot that old prunes what it covers, once
// (doc_pruned.through_snapshot), by primary-key ranges per client, so a
// sweep never reads a whole log.
void prune_step(SweepContext& ctx) {
    static Statement prune(
        "WITH chosen AS ("
        "  SELECT DISTINCT ON (s.doc) s.doc, s.state_vector, s.id FROM coord.doc_snapshots s "
        "  WHERE s.created_at < $1 ORDER BY s.doc, s.id DESC), "
        "todo AS ("
        "  SELECT c.doc, c.state_vector, c.id FROM chosen c LEFT JOIN coord.doc_pruned p ON p.doc = c.doc "
        "  WHERE p.doc IS NULL OR p.through_snapshot < c.id), "
        "gone AS ("
        "  DELETE FROM coord.doc_updates u USING todo b, pg_catalog.jsonb_each_text(b.state_vector) v "
        "  WHERE u.doc = b.doc AND u.client = v.key AND u.seq < v.value::bigint "
        "    AND u.position IS NOT NULL "
        "  RETURNING u.doc, u.client, u.seq), "
        "per_client AS (SELECT doc, client, pg_catalog.max(seq) AS seq FROM gone GROUP BY doc, client), "
        "per_doc AS (SELECT doc, pg_catalog.jsonb_object_agg(client, seq) AS vector "
        "            FROM per_client GROUP BY doc), "
        "recorded AS ("
        "  INSERT INTO coord.doc_pruned AS p (doc, vector, through_snapshot) "
        "  SELECT t.doc, COALESCE(d.vector, '{}'), t.id FROM todo t LEFT JOIN per_doc d ON d.doc = t.doc "
        "  ON CONFLICT (doc) DO UPDATE SET vector = p.vector OPERATOR(pg_catalog.||) EXCLUDED.vector, "
        "    through_snapshot = EXCLUDED.through_snapshot), "
        "old_snapshots AS ("
        "  DELETE FROM coord.doc_snapshots s USING todo b "
        "  WHERE s.doc = b.doc AND s.id < b.id RETURNING 1) "
        "SELECT (SELECT pg_catalog.count(*) FROM gone), (SELECT pg_catalog.count(*) FROM old_snapshots)",
        {TIMESTAMPTZOID});
    ctx.spi.run(prune, {timestamptz_param(ctx.now - doc_retention())});
    Row row = *ctx.spi.first_row();
    ctx.counts.emplace_back("doc_updates_pruned", row.get_int64(1).value_or(0));
    ctx.counts.emplace_back("doc_snapshots_pruned", row.get_int64(2).value_or(0));
}

SweepStepRegistration announce_registration("doc_announce", &announce_step);
SweepStepRegistration prune_registration("doc_prune", &prune_step);

}  // namespace

void collab_init() {
    DefineCustomIntVariable(
        "coord.doc_retention",
        "Delivered document updates are pruned once a snapshot at least this old covers them.",
        "A client behind the pruned updates joins again with coord.doc_load.", &doc_retention_s,
        3600, 0, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

}  // namespace coord::pg
