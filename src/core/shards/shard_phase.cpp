#include "core/shards/shard_phase.hpp"

#include "core/common/error.hpp"

#include <fmt/format.h>

namespace coord {

namespace {

std::string describe_allowed(Phase current) {
    switch (current) {
        case Phase::copying:
        case Phase::dual_write:
        case Phase::cutover:
            return fmt::format(
                "From \"{}\" the allowed next phases are \"{}\" (coord.migration_advance) and "
                "\"rolled_back\" (coord.migration_rollback).",
                phase_name(current), phase_name(*next_phase(current)));
        case Phase::complete:
            return "\"complete\" is final: the shard now lives on the target; no phase may follow.";
        case Phase::rolled_back:
            return "\"rolled_back\" is final: start a new migration with coord.migration_start.";
    }
    return {};
}

}  // namespace

std::string_view phase_name(Phase phase) {
    switch (phase) {
        case Phase::copying: return "copying";
        case Phase::dual_write: return "dual_write";
        case Phase::cutover: return "cutover";
        case Phase::complete: return "complete";
        case Phase::rolled_back: return "rolled_back";
    }
    return "unknown";
}

std::optional<Phase> parse_phase(std::string_view name) {
    for (Phase p : kAllPhases)
        if (phase_name(p) == name) return p;
    return std::nullopt;
}

bool phase_is_active(Phase phase) {
    return phase == Phase::copying || phase == Phase::dual_write || phase == Phase::cutover;
}

std::optional<Phase> next_phase(Phase phase) {
    switch (phase) {
        case Phase::copying: return Phase::dual_write;
        case Phase::dual_write: return Phase::cutover;
        case Phase::cutover: return Phase::complete;
        case Phase::complete:
        case Phase::rolled_back: return std::nullopt;
    }
    return std::nullopt;
}

std::vector<std::string_view> allowed_requests(Phase phase) {
    if (!phase_is_active(phase)) return {};
    return {phase_name(*next_phase(phase)), phase_name(Phase::rolled_back)};
}

Phase decide_advance(std::int64_t migration_id, Phase current, std::string_view requested) {
    std::optional<Phase> wanted = parse_phase(requested);
    if (!wanted)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("phase \"{}\" is not a migration phase", requested),
                    "The phases are copying, dual_write, cutover, complete and rolled_back.");
    std::optional<Phase> next = next_phase(current);
    if (next && *next == *wanted) return *wanted;
    std::string hint;
    if (*wanted == Phase::rolled_back && phase_is_active(current))
        hint = "Use coord.migration_rollback(migration_id) to roll a migration back.";
    throw Error(sqlstate::invalid_transition,
                fmt::format("migration {} cannot move from \"{}\" to \"{}\"", migration_id,
                            phase_name(current), phase_name(*wanted)),
                describe_allowed(current), hint);
}

Phase decide_rollback(std::int64_t migration_id, Phase current) {
    if (phase_is_active(current)) return Phase::rolled_back;
    throw Error(sqlstate::invalid_transition,
                fmt::format("migration {} cannot be rolled back from \"{}\"", migration_id,
                            phase_name(current)),
                describe_allowed(current));
}

void check_can_start(std::string_view shard, std::optional<std::int64_t> latest_id,
                     std::optional<Phase> latest) {
    if (!latest || !phase_is_active(*latest)) return;
    throw Error(sqlstate::invalid_transition,
                fmt::format("shard \"{}\" already has an active migration ({}, phase \"{}\")",
                            shard, latest_id.value_or(0), phase_name(*latest)),
                "One migration per shard at a time: complete or roll back the active one first.");
}

}  // namespace coord
