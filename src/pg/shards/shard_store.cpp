#include "core/common/error.hpp"
#include "core/shards/shard_phase.hpp"
#include "core/shards/shard_routing.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/shards/shard_store.hpp"
#include "pg/common/index_lookup.hpp"
#include "pg/common/relation_layout.hpp"

#include <algorithm>

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
}

namespace coord::pg {

namespace {

enum class Lock { none, update, share };

// The shard row and its latest migration.
struct ShardRow {
    std::string node;
    Epoch epoch = 0;
    std::optional<std::int64_t> migration_id;
    std::optional<Phase> phase;  // latest migration's phase
    std::string source;
    std::string target;

    Placement placement() const {
        if (!phase) return {std::nullopt, node, ""};
        return {phase, source, target};
    }
    bool migration_active() const { return phase && phase_is_active(*phase); }
};

[[noreturn]] void throw_unknown_shard(std::string_view shard) {
    throw Error(sqlstate::undefined_object, fmt::format("shard \"{}\" does not exist", shard), {},
                "Register it with coord.shard_add(shard, node).");
}

Phase stored_phase(const std::string& name) {
    std::optional<Phase> p = parse_phase(name);
    if (!p)
        throw Error(sqlstate::internal_error, fmt::format("unknown stored phase \"{}\"", name));
    return *p;
}

ShardRow shard_row_from(const Row& row) {
    ShardRow r;
    r.node = row.get_text(1).value_or("");
    r.epoch = row.get_int64(2).value_or(0);
    std::string phase = row.get_text(3).value_or("stable");
    if (phase != "stable") {
        r.phase = stored_phase(phase);
        r.source = row.get_text(4).value_or("");
        r.target = row.get_text(5).value_or("");
    }
    r.migration_id = row.get_int64(6);
    return r;
}

std::optional<ShardRow> load_shard(Spi& spi, std::string_view shard, Lock lock) {
    static Statement plain(
        "SELECT node, epoch, phase, source, target, migration_id FROM coord.shard_state "
        "WHERE shard = $1",
        {TEXTOID});
    static Statement for_update(
        "SELECT node, epoch, phase, source, target, migration_id FROM coord.shard_state "
        "WHERE shard = $1 FOR NO KEY UPDATE",
        {TEXTOID});
    spi.run(lock == Lock::update ? for_update : plain, {text_param(shard)});
    std::optional<Row> row = spi.first_row();
    if (!row) return std::nullopt;
    return shard_row_from(*row);
}

ShardRow require_shard(Spi& spi, std::string_view shard, Lock lock) {
    std::optional<ShardRow> row = load_shard(spi, shard, lock);
    if (!row) throw_unknown_shard(shard);
    return *row;
}

// Moves the shard to a new epoch with `placement` and records it.
Epoch bump_epoch(Spi& spi, std::string_view shard, std::string_view home,
                 std::int64_t migration_id, const Placement& placement, Micros now) {
    static Statement update(
        "UPDATE coord.shard_state SET epoch = epoch + 1, node = $2, migration_id = $3, "
        "phase = $4, source = $5, target = $6 WHERE shard = $1 RETURNING epoch",
        {TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID});
    static Statement record(
        "INSERT INTO coord.shard_epoch_history "
        "(shard, epoch, phase, migration_id, write_nodes, read_node, began_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        {TEXTOID, INT8OID, TEXTOID, INT8OID, TEXTARRAYOID, TEXTOID, TIMESTAMPTZOID});
    spi.run(update, {text_param(shard), text_param(home), int64_param(migration_id),
                     text_param(route_phase_name(placement.phase)), text_param(placement.source),
                     text_param(placement.target)});
    std::optional<Row> row = spi.first_row();
    if (!row) throw_unknown_shard(shard);
    Epoch epoch = *row->get_int64(1);
    std::vector<std::string> writes = write_nodes(placement);
    std::optional<std::string> read = read_node(placement, std::nullopt, {});
    spi.run(record, {text_param(shard), int64_param(epoch),
                     text_param(route_phase_name(placement.phase)), int64_param(migration_id),
                     datum_param(TEXTARRAYOID, text_array_datum(writes)), text_param(*read),
                     timestamptz_param(now)});
    return epoch;
}

struct MigrationRow {
    std::string shard;
    std::string source;
    std::string target;
    Phase phase;
};

// Locks the migration row: concurrent steps on one migration queue here and
// each re-reads the phase its predecessor left.
MigrationRow lock_migration(Spi& spi, std::int64_t id) {
    static Statement st(
        "SELECT shard, source, target, phase FROM coord.shard_migration_state "
        "WHERE id = $1 FOR UPDATE",
        {INT8OID});
    spi.run(st, {int64_param(id)});
    std::optional<Row> row = spi.first_row();
    if (!row)
        throw Error(sqlstate::undefined_object, fmt::format("migration {} does not exist", id));
    return {*row->get_text(1), *row->get_text(2), *row->get_text(3),
            stored_phase(*row->get_text(4))};
}

Epoch change_phase(Spi& spi, std::int64_t id, const MigrationRow& m, Phase next) {
    static Statement update(
        "UPDATE coord.shard_migration_state SET phase = $2, phase_changed_at = $3 WHERE id = $1",
        {INT8OID, TEXTOID, TIMESTAMPTZOID});
    static Statement forget_reports("DELETE FROM coord.shard_source_reports WHERE migration_id = $1",
                                    {INT8OID});
    Micros now = now_micros();
    spi.run(update, {int64_param(id), text_param(phase_name(next)), timestamptz_param(now)});
    if (!phase_is_active(next)) spi.run(forget_reports, {int64_param(id)});
    std::string_view home = next == Phase::complete ? m.target : m.source;
    return bump_epoch(spi, m.shard, home, id, Placement{next, m.source, m.target}, now);
}

// coord.route reads without SQL: SPI and the executor cost more than the
// rest of a route call. Rows are read through the primary-key indexes with
// a fresh snapshot (READ COMMITTED: the statement's view, after a
// CommandCounterIncrement so this transaction's own changes are seen). The
// columns are found by name and type (relation_layout.hpp; 50_shards.sql).
constexpr ColumnSpec kShardColumns[] = {
    {"shard", TEXTOID}, {"node", TEXTOID},   {"epoch", INT8OID},
    {"phase", TEXTOID}, {"source", TEXTOID}, {"target", TEXTOID},
};
ColumnMap shard_columns(kShardColumns);
namespace shard_col {
constexpr int shard = column_index(kShardColumns, "shard"), node = column_index(kShardColumns, "node"),
              epoch = column_index(kShardColumns, "epoch"), phase = column_index(kShardColumns, "phase"),
              source = column_index(kShardColumns, "source"),
              target = column_index(kShardColumns, "target");
}
constexpr ColumnSpec kWatermarkColumns[] = {
    {"shard", TEXTOID}, {"node", TEXTOID}, {"applied", INT8OID},
};
ColumnMap watermark_columns(kWatermarkColumns);
namespace watermark_col {
constexpr int shard = column_index(kWatermarkColumns, "shard"),
              node = column_index(kWatermarkColumns, "node"),
              applied = column_index(kWatermarkColumns, "applied");
}

// The shard row as plain data, so that it can leave pg_call (guard.hpp): its
// text palloc'd in the caller's memory context (data == nullptr: NULL).
struct RawShardRow {
    bool found;
    Epoch epoch;
    TextBytes node, phase, source, target;
};

RawShardRow read_shard_row(std::string_view shard) {
    RawShardRow raw{};
    RawShardRow* out = &raw;
    pg_call([&] {
        CommandCounterIncrement();
        Oid index = coord_relation_oid(CoordRelation::shard_state_pkey);
        Relation table = table_open(coord_relation_oid(CoordRelation::shard_state), AccessShareLock);
        const AttrNumber* attnum = shard_columns.require_layout(table).attnum;
        text* key_text = cstring_to_text_with_len(shard.data(), static_cast<int>(shard.size()));
        ScanKeyData key;
        ScanKeyInit(&key, attnum[shard_col::shard], BTEqualStrategyNumber, F_TEXTEQ,
                    PointerGetDatum(key_text));
        use_index_collations(&key, 1, index);
        Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
        SysScanDesc scan = systable_beginscan(table, index, true, snapshot, 1, &key);
        HeapTuple tuple = systable_getnext(scan);
        if (HeapTupleIsValid(tuple)) {
            TupleDesc desc = RelationGetDescr(table);
            bool isnull = false;
            auto text_at = [&](int col) {
                Datum value = heap_getattr(tuple, attnum[col], desc, &isnull);
                return isnull ? TextBytes{nullptr, 0} : copy_text_bytes(value);
            };
            out->found = true;
            out->node = text_at(shard_col::node);
            out->epoch = DatumGetInt64(heap_getattr(tuple, attnum[shard_col::epoch], desc, &isnull));
            out->phase = text_at(shard_col::phase);
            out->source = text_at(shard_col::source);
            out->target = text_at(shard_col::target);
        }
        systable_endscan(scan);
        UnregisterSnapshot(snapshot);
        table_close(table, AccessShareLock);
    });
    return raw;
}

std::string string_of(const TextBytes& bytes) {
    return bytes.data ? std::string(bytes.data, bytes.length) : std::string();
}

// The node's reported watermark for the shard (nullopt: never reported).
std::optional<Version> read_watermark(std::string_view shard, std::string_view node) {
    bool found = false;
    Version applied = 0;
    pg_call([&] {
        Oid index = coord_relation_oid(CoordRelation::shard_watermark_pkey);
        Relation table =
            table_open(coord_relation_oid(CoordRelation::shard_watermark), AccessShareLock);
        const AttrNumber* attnum = watermark_columns.require_layout(table).attnum;
        text* shard_text = cstring_to_text_with_len(shard.data(), static_cast<int>(shard.size()));
        text* node_text = cstring_to_text_with_len(node.data(), static_cast<int>(node.size()));
        ScanKeyData keys[2];
        ScanKeyInit(&keys[0], attnum[watermark_col::shard], BTEqualStrategyNumber, F_TEXTEQ,
                    PointerGetDatum(shard_text));
        ScanKeyInit(&keys[1], attnum[watermark_col::node], BTEqualStrategyNumber, F_TEXTEQ,
                    PointerGetDatum(node_text));
        use_index_collations(keys, 2, index);
        Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
        SysScanDesc scan = systable_beginscan(table, index, true, snapshot, 2, keys);
        HeapTuple tuple = systable_getnext(scan);
        if (HeapTupleIsValid(tuple)) {
            bool isnull = false;
            found = true;
            applied = DatumGetInt64(heap_getattr(tuple, attnum[watermark_col::applied],
                                                 RelationGetDescr(table), &isnull));
        }
        systable_endscan(scan);
        UnregisterSnapshot(snapshot);
        table_close(table, AccessShareLock);
    });
    return found ? std::optional<Version>(applied) : std::nullopt;
}

}  // namespace

std::vector<std::string> text_array_values(Datum array) {
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int n = 0;
    pg_call([&] {
        deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elems,
                          &nulls, &n);
    });
    std::vector<std::string> out;
    out.reserve(n);
    for (int i = 0; i < n; ++i) {
        if (nulls[i]) continue;
        ::text* t = reinterpret_cast<::text*>(DatumGetPointer(elems[i]));
        out.emplace_back(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    }
    return out;
}

Epoch add_shard(Spi& spi, std::string_view shard, std::string_view node) {
    static Statement insert(
        "INSERT INTO coord.shard_state (shard, node, epoch, phase, created_at) "
        "VALUES ($1, $2, 1, 'stable', $3) "
        "ON CONFLICT (shard) DO NOTHING",
        {TEXTOID, TEXTOID, TIMESTAMPTZOID});
    static Statement record(
        "INSERT INTO coord.shard_epoch_history "
        "(shard, epoch, phase, write_nodes, read_node, began_at) "
        "VALUES ($1, 1, 'stable', ARRAY[$2], $2, $3)",
        {TEXTOID, TEXTOID, TIMESTAMPTZOID});
    Micros now = now_micros();
    if (spi.run(insert, {text_param(shard), text_param(node), timestamptz_param(now)}) == 1) {
        spi.run(record, {text_param(shard), text_param(node), timestamptz_param(now)});
        return 1;
    }
    // Already registered: a retry for the same node is answered with the
    // current epoch; another node is a conflict.
    ShardRow row = require_shard(spi, shard, Lock::none);
    if (row.node == node) return row.epoch;
    throw Error(sqlstate::duplicate_object,
                fmt::format("shard \"{}\" is already registered on node \"{}\"", shard, row.node),
                {}, "Move a shard with coord.migration_start.");
}

std::int64_t start_migration(Spi& spi, std::string_view shard, std::string_view target) {
    static Statement insert(
        "INSERT INTO coord.shard_migration_state "
        "(shard, source, target, phase, started_at, phase_changed_at) "
        "VALUES ($1, $2, $3, 'copying', $4, $4) RETURNING id",
        {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID});
    ShardRow row = require_shard(spi, shard, Lock::update);
    check_can_start(shard, row.migration_id, row.phase);
    if (row.node == target)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("shard \"{}\" already lives on node \"{}\"", shard, target),
                    {}, "target must be another node than the shard's current one.");
    Micros now = now_micros();
    spi.run(insert, {text_param(shard), text_param(row.node), text_param(target),
                     timestamptz_param(now)});
    std::int64_t id = *spi.first_row()->get_int64(1);
    // The source's watermark when the migration starts is the first version
    // the target may lack: lag is counted from the start for it.
    static Statement seed(
        "INSERT INTO coord.shard_source_reports (migration_id, version, reported_at) "
        "SELECT $1, applied, $2 FROM coord.shard_watermark WHERE shard = $3 AND node = $4",
        {INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID});
    spi.run(seed, {int64_param(id), timestamptz_param(now), text_param(shard),
                   text_param(row.node)});
    bump_epoch(spi, shard, row.node, id, Placement{Phase::copying, row.node, std::string(target)},
               now);
    return id;
}

Epoch advance_migration(Spi& spi, std::int64_t migration_id, std::string_view phase) {
    MigrationRow m = lock_migration(spi, migration_id);
    Phase next = decide_advance(migration_id, m.phase, phase);
    return change_phase(spi, migration_id, m, next);
}

Epoch rollback_migration(Spi& spi, std::int64_t migration_id) {
    MigrationRow m = lock_migration(spi, migration_id);
    Phase next = decide_rollback(migration_id, m.phase);
    return change_phase(spi, migration_id, m, next);
}

RouteAnswer route_shard(std::string_view shard, std::optional<Version> min_version) {
    RawShardRow raw = read_shard_row(shard);
    if (!raw.found) throw_unknown_shard(shard);
    ShardRow row;
    row.epoch = raw.epoch;
    row.node = string_of(raw.node);
    std::string phase = string_of(raw.phase);
    if (phase != "stable") {
        row.phase = stored_phase(phase);
        row.source = string_of(raw.source);
        row.target = string_of(raw.target);
    }
    Placement placement = row.placement();
    RouteAnswer answer;
    answer.epoch = row.epoch;
    answer.phase = std::string(route_phase_name(placement.phase));
    answer.write_nodes = write_nodes(placement);
    if (!min_version) {
        answer.read_node = read_node(placement, std::nullopt, {});
        return answer;
    }
    // Only the candidates' watermarks, in order of preference, until one
    // has caught up with the client.
    std::vector<NodeWatermark> watermarks;
    for (const std::string& node : read_candidates(placement)) {
        watermarks.push_back({node, read_watermark(shard, node)});
        if (watermarks.back().applied && *watermarks.back().applied >= *min_version) break;
    }
    answer.read_node = read_node(placement, min_version, watermarks);
    return answer;
}

void report_applied(Spi& spi, std::string_view shard, std::string_view node, Version version) {
    static Statement upsert(
        "INSERT INTO coord.shard_watermark AS w (shard, node, applied, applied_at, reported_at) "
        "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (shard, node) DO UPDATE SET "
        "applied = GREATEST(w.applied, excluded.applied), "
        "applied_at = CASE WHEN excluded.applied > w.applied THEN excluded.applied_at "
        "ELSE w.applied_at END, "
        "reported_at = excluded.reported_at "
        "RETURNING w.applied_at = $4, w.applied",
        {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID});
    // A source version is remembered only while the migration is active and
    // the target lacks it. The key-share lock on the migration row makes a
    // concurrent phase change wait (or this insert see its result), so no
    // row is left behind for a finished migration.
    static Statement source_report(
        "INSERT INTO coord.shard_source_reports (migration_id, version, reported_at) "
        "SELECT m.id, $2, $3 FROM coord.shard_migration_state m "
        "WHERE m.id = $1 AND m.phase IN ('copying', 'dual_write', 'cutover') "
        "AND NOT EXISTS (SELECT FROM coord.shard_watermark w "
        "WHERE w.shard = $4 AND w.node = $5 AND w.applied >= $2) "
        "FOR KEY SHARE OF m ON CONFLICT DO NOTHING",
        {INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID});
    static Statement target_applied(
        "DELETE FROM coord.shard_source_reports WHERE migration_id = $1 AND version <= $2",
        {INT8OID, INT8OID});
    ShardRow row = require_shard(spi, shard, Lock::none);
    std::vector<std::string> placements{row.node};
    if (row.phase) {
        for (const std::string* n : {&row.source, &row.target})
            if (std::find(placements.begin(), placements.end(), *n) == placements.end())
                placements.push_back(*n);
    }
    if (std::find(placements.begin(), placements.end(), node) == placements.end())
        throw Error(sqlstate::undefined_object,
                    fmt::format("node \"{}\" is not a placement of shard \"{}\"", node, shard),
                    fmt::format("The shard's placements are {}.", describe_nodes(placements)));
    Micros now = now_micros();
    spi.run(upsert, {text_param(shard), text_param(node), int64_param(version),
                     timestamptz_param(now)});
    std::optional<Row> result = spi.first_row();
    bool advanced = result->get_boolean(1).value_or(false);
    Version applied = result->get_int64(2).value_or(version);
    if (!row.migration_active()) return;
    if (node == row.source && advanced)
        spi.run(source_report, {int64_param(*row.migration_id), int64_param(version),
                                timestamptz_param(now), text_param(shard), text_param(row.target)});
    else if (node == row.target)
        spi.run(target_applied, {int64_param(*row.migration_id), int64_param(applied)});
}

void check_shard_route(Spi& spi, std::string_view shard, Epoch epoch) {
    // The share lock first (waiting for a phase change in progress), then
    // the epochs read with a snapshot taken after it (see load_shard).
    static Statement lock_row("SELECT 1 FROM coord.shard_state WHERE shard = $1 FOR SHARE",
                              {TEXTOID});
    static Statement st(
        "SELECT s.epoch, cur.write_nodes, given.write_nodes FROM coord.shard_state s "
        "JOIN coord.shard_epoch_history cur ON cur.shard = s.shard AND cur.epoch = s.epoch "
        "LEFT JOIN coord.shard_epoch_history given ON given.shard = s.shard AND given.epoch = $2 "
        "WHERE s.shard = $1",
        {TEXTOID, INT8OID});
    if (spi.run(lock_row, {text_param(shard)}) == 0) throw_unknown_shard(shard);
    spi.run(st, {text_param(shard), int64_param(epoch)});
    std::optional<Row> row = spi.first_row();
    if (!row) throw_unknown_shard(shard);
    Epoch current = *row->get_int64(1);
    std::vector<std::string> current_writes =
        text_array_values(*row->get_datum_copy(2, CurrentMemoryContext));
    std::vector<std::string> given_writes;
    if (std::optional<Datum> given = row->get_datum_copy(3, CurrentMemoryContext))
        given_writes = text_array_values(*given);
    else if (epoch <= current)
        throw Error(sqlstate::internal_error,
                    fmt::format("epoch {} of shard \"{}\" has no history", epoch, shard));
    check_route(shard, epoch, given_writes, current, current_writes);
}

}  // namespace coord::pg
