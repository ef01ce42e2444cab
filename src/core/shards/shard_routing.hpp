// Where a shard's writes and reads go, per migration phase, and the
// stale-route rule for writers.
//
//   phase        write_nodes          read_node (no min_version)
//   stable       {home}               home          (never migrated)
//   copying      {source}             source        (target is being filled)
//   dual_write   {source, target}     source        (source stays authoritative)
//   cutover      {target}             target
//   complete     {target}             target        (the target is the new home)
//   rolled_back  {source}             source        (the target stays a replica)
//
// With min_version (the highest version the client has seen), read_node is
// the first node of the phase's read candidates whose applied watermark is
// at least min_version: the preferred read node above, then the other
// placement while both hold the shard's data (dual_write, cutover). When no
// candidate has reported min_version, read_node is empty (SQL NULL): the
// client waits and asks again; it is never sent to a placement behind it.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/shards/shard_phase.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord {

using Version = std::int64_t;
using Epoch = std::int64_t;

// A shard's placement: the latest migration's phase, source and target, or
// (phase nullopt) the shard's home node in `source` and no target.
struct Placement {
    std::optional<Phase> phase;
    std::string source;
    std::string target;
};

// "stable" when the shard never migrated, else the phase name.
std::string_view route_phase_name(const std::optional<Phase>& phase);

// The nodes a writer must write to, the authoritative one first.
std::vector<std::string> write_nodes(const Placement& placement);

// The nodes a reader may read from, in order of preference.
std::vector<std::string> read_candidates(const Placement& placement);

// A node's applied watermark as last reported (nullopt: never reported).
struct NodeWatermark {
    std::string node;
    std::optional<Version> applied;
};

// The node to read from. Without min_version: the first read candidate.
// With min_version: the first candidate whose watermark >= min_version, or
// nullopt when none has caught up.
std::optional<std::string> read_node(const Placement& placement,
                                     std::optional<Version> min_version,
                                     const std::vector<NodeWatermark>& watermarks);

// True when the two write placements send writes to different nodes
// (compared as sets: the order only says which one is authoritative).
bool writes_differ(const std::vector<std::string>& a, const std::vector<std::string>& b);

// coord.check_route: a writer stamped its write with `given` epoch whose
// write placement was `given_writes`; the shard is now at `current` with
// `current_writes`.
//   given > current                           -> 22023 (no such epoch yet)
//   given < current and the writes differ     -> PC004 stale_route
//   otherwise                                 -> fine
void check_route(std::string_view shard, Epoch given, const std::vector<std::string>& given_writes,
                 Epoch current, const std::vector<std::string>& current_writes);

// Argument rules: versions are >= 0, epochs >= 1 (22004 NULL, 22023 otherwise).
Version require_version(std::optional<Version> value, const char* param);
Epoch require_epoch(std::optional<Epoch> value, const char* param);

// "{a, b}" for messages.
std::string describe_nodes(const std::vector<std::string>& nodes);

}  // namespace coord
