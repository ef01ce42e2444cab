// SQL entry points of the shard migration API (extension/sql/50_shards.sql).
#include "core/shards/shard_routing.hpp"
#include "core/common/validate.hpp"
#include "pg/common/datum.hpp"
#include "pg/shards/shard_store.hpp"

using namespace coord;
using namespace coord::pg;

namespace {

std::string_view shard_arg(const Args& args, int i) {
    return require_text(args.get_text(i), "shard", kMaxShardNameBytes);
}

std::string_view node_arg(const Args& args, int i, const char* param) {
    return require_text(args.get_text(i), param, kMaxShardNameBytes);
}

std::int64_t migration_arg(const Args& args, int i) {
    return require_present(args.get_int64(i), "migration_id");
}

// Emits the one row of coord.route's result.
void emit_route(FunctionCallInfo fcinfo, const RouteAnswer& answer) {
    Datum values[4];
    bool nulls[4] = {false, false, false, !answer.read_node};
    values[0] = int64_datum(answer.epoch);
    values[1] = text_datum(answer.phase);
    values[2] = text_array_datum(answer.write_nodes);
    values[3] = answer.read_node ? text_datum(*answer.read_node) : Datum(0);
    begin_result_set(fcinfo);
    add_result_row(fcinfo, values, nulls);
}

}  // namespace

COORD_FUNCTION(coord_shard_add) {
    Args args(fcinfo);
    auto shard = shard_arg(args, 0);
    auto node = node_arg(args, 1, "node");
    Spi spi;
    return int64_datum(add_shard(spi, shard, node));
}

COORD_FUNCTION(coord_migration_start) {
    Args args(fcinfo);
    auto shard = shard_arg(args, 0);
    auto target = node_arg(args, 1, "target");
    Spi spi;
    return int64_datum(start_migration(spi, shard, target));
}

COORD_FUNCTION(coord_migration_advance) {
    Args args(fcinfo);
    auto id = migration_arg(args, 0);
    auto phase = require_text(args.get_text(1), "phase", kMaxShardNameBytes);
    Spi spi;
    return int64_datum(advance_migration(spi, id, phase));
}

COORD_FUNCTION(coord_migration_rollback) {
    Args args(fcinfo);
    auto id = migration_arg(args, 0);
    Spi spi;
    return int64_datum(rollback_migration(spi, id));
}

COORD_FUNCTION(coord_route) {
    Args args(fcinfo);
    auto shard = shard_arg(args, 0);
    std::optional<Version> min_version;
    if (!args.is_null(1)) min_version = require_version(args.get_int64(1), "min_version");
    emit_route(fcinfo, route_shard(shard, min_version));
    return Datum(0);
}

COORD_FUNCTION(coord_report_applied) {
    Args args(fcinfo);
    auto shard = shard_arg(args, 0);
    auto node = node_arg(args, 1, "node");
    auto version = require_version(args.get_int64(2), "version");
    Spi spi;
    report_applied(spi, shard, node, version);
    return Datum(0);
}

COORD_FUNCTION(coord_check_route) {
    Args args(fcinfo);
    auto shard = shard_arg(args, 0);
    auto epoch = require_epoch(args.get_int64(1), "epoch");
    Spi spi;
    check_shard_route(spi, shard, epoch);
    return Datum(0);
}
