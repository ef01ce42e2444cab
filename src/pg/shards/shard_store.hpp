// Shard migration state in tables (extension/sql/50_shards.sql): loading,
// locking and writing it, with the decisions taken by the core
// (core/shard_phase.hpp, core/shard_routing.hpp).
#pragma once

#include "core/shards/shard_phase.hpp"
#include "core/shards/shard_routing.hpp"
#include "pg/common/spi.hpp"

#include <vector>

namespace coord::pg {

// Documented limit for shard and node names (README, "Shard migration").
inline constexpr std::size_t kMaxShardNameBytes = 256;

struct RouteAnswer {
    Epoch epoch = 0;
    std::string phase;
    std::vector<std::string> write_nodes;
    std::optional<std::string> read_node;
};

Epoch add_shard(Spi& spi, std::string_view shard, std::string_view node);
std::int64_t start_migration(Spi& spi, std::string_view shard, std::string_view target);
Epoch advance_migration(Spi& spi, std::int64_t migration_id, std::string_view phase);
Epoch rollback_migration(Spi& spi, std::int64_t migration_id);
// Reads by primary key without SPI (the hot path: every client request).
RouteAnswer route_shard(std::string_view shard, std::optional<Version> min_version);
void report_applied(Spi& spi, std::string_view shard, std::string_view node, Version version);
void check_shard_route(Spi& spi, std::string_view shard, Epoch epoch);

// The strings of a text[] (text_array_datum in datum.hpp builds one).
std::vector<std::string> text_array_values(Datum array);

}  // namespace coord::pg
