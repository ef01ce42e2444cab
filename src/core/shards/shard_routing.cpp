#include "core/shards/shard_routing.hpp"

#include "core/common/error.hpp"
#include "core/common/validate.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace coord {

std::string_view route_phase_name(const std::optional<Phase>& phase) {
    return phase ? phase_name(*phase) : std::string_view("stable");
}

std::vector<std::string> write_nodes(const Placement& p) {
    if (!p.phase) return {p.source};
    switch (*p.phase) {
        case Phase::copying:
        case Phase::rolled_back: return {p.source};
        case Phase::dual_write: return {p.source, p.target};
        case Phase::cutover:
        case Phase::complete: return {p.target};
    }
    return {p.source};
}

std::vector<std::string> read_candidates(const Placement& p) {
    if (!p.phase) return {p.source};
    switch (*p.phase) {
        case Phase::copying:
        case Phase::rolled_back: return {p.source};
        case Phase::dual_write: return {p.source, p.target};
        case Phase::cutover: return {p.target, p.source};
        case Phase::complete: return {p.target};
    }
    return {p.source};
}

std::optional<std::string> read_node(const Placement& placement,
                                     std::optional<Version> min_version,
                                     const std::vector<NodeWatermark>& watermarks) {
    std::vector<std::string> candidates = read_candidates(placement);
    if (!min_version) return candidates.front();
    for (const std::string& node : candidates) {
        auto it = std::find_if(watermarks.begin(), watermarks.end(),
                               [&](const NodeWatermark& w) { return w.node == node; });
        if (it != watermarks.end() && it->applied && *it->applied >= *min_version) return node;
    }
    return std::nullopt;
}

bool writes_differ(const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::vector<std::string> x = a, y = b;
    std::sort(x.begin(), x.end());
    x.erase(std::unique(x.begin(), x.end()), x.end());
    std::sort(y.begin(), y.end());
    y.erase(std::unique(y.begin(), y.end()), y.end());
    return x != y;
}

std::string describe_nodes(const std::vector<std::string>& nodes) {
    return fmt::format("{{{}}}", fmt::join(nodes, ", "));
}

void check_route(std::string_view shard, Epoch given, const std::vector<std::string>& given_writes,
                 Epoch current, const std::vector<std::string>& current_writes) {
    if (given > current)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("epoch {} of shard \"{}\" does not exist yet (current epoch {})",
                                given, shard, current),
                    {}, "Use the epoch returned by coord.route.");
    if (given == current || !writes_differ(given_writes, current_writes)) return;
    throw Error(sqlstate::stale_route,
                fmt::format("stale route for shard \"{}\": epoch {} is older than current epoch {}",
                            shard, given, current),
                fmt::format("Epoch {} writes to {}; epoch {} writes to {}.", given,
                            describe_nodes(given_writes), current, describe_nodes(current_writes)),
                "Call coord.route again and redo the write with the new placement.");
}

Version require_version(std::optional<Version> value, const char* param) {
    Version v = require_present(value, param);
    if (v < 0)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} must not be negative (got {})", param, v));
    return v;
}

Epoch require_epoch(std::optional<Epoch> value, const char* param) {
    Epoch e = require_present(value, param);
    if (e < 1)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} must be at least 1 (got {})", param, e));
    return e;
}

}  // namespace coord
