// What the background worker does for collaborative documents (every sweep,
// also coord.sweep()):
//  * doc_announce: turns the rows appends left in coord.doc_announce into one
//    NOTIFY coord_doc {"doc", "position"} per document (the highest position
//    delivered since the last sweep), so appends never take the notify queue's
//    lock themselves;
//  * doc_prune: deletes the delivered updates the newest snapshot of their
//    document covers and that are older than coord.doc_retention (each
//    client's last covered update stays: it carries the client's seq), and
//    snapshots superseded for as long; records what was pruned per client in
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

void prune_step(SweepContext& ctx) {
    static Statement prune(
        "WITH best AS ("
        "  SELECT DISTINCT ON (doc) doc, state_vector, id FROM coord.doc_snapshots "
        "  ORDER BY doc, id DESC), "
        "gone AS ("
        "  DELETE FROM coord.doc_updates u USING best b, pg_catalog.jsonb_each_text(b.state_vector) v "
        "  WHERE u.doc = b.doc AND u.client = v.key AND u.seq < v.value::bigint "
        "    AND u.position IS NOT NULL AND u.appended_at < $1 "
        "  RETURNING u.doc, u.client, u.seq), "
        "per_client AS (SELECT doc, client, pg_catalog.max(seq) AS seq FROM gone GROUP BY doc, client), "
        "per_doc AS (SELECT doc, pg_catalog.jsonb_object_agg(client, seq) AS vector "
        "            FROM per_client GROUP BY doc), "
        "recorded AS ("
        "  INSERT INTO coord.doc_pruned AS p (doc, vector) SELECT doc, vector FROM per_doc "
        "  ON CONFLICT (doc) DO UPDATE SET vector = p.vector OPERATOR(pg_catalog.||) EXCLUDED.vector), "
        "old_snapshots AS ("
        "  DELETE FROM coord.doc_snapshots s USING best b "
        "  WHERE s.doc = b.doc AND s.id < b.id AND s.created_at < $1 RETURNING 1) "
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
        "Delivered document updates covered by a snapshot are pruned once older than this.",
        "A client behind the pruned updates joins again with coord.doc_load.", &doc_retention_s,
        3600, 0, INT_MAX, PGC_SUSET, GUC_UNIT_S, nullptr, nullptr, nullptr);
}

}  // namespace coord::pg
