// The shard migration phase machine:
//
//   copying -> dual_write -> cutover -> complete
//      \__________\____________\______-> rolled_back   (coord.migration_rollback)
//
// coord.migration_advance may only take the one forward step of the current
// phase; coord.migration_rollback is allowed from every phase before
// complete. Everything else is PC003 (invalid_transition), naming the
// current phase and what it allows next.
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord {

enum class Phase { copying, dual_write, cutover, complete, rolled_back };

inline constexpr Phase kAllPhases[] = {Phase::copying, Phase::dual_write, Phase::cutover,
                                       Phase::complete, Phase::rolled_back};

std::string_view phase_name(Phase phase);
std::optional<Phase> parse_phase(std::string_view name);

// copying, dual_write and cutover: the migration is under way (one per shard).
bool phase_is_active(Phase phase);

// The phase coord.migration_advance may move to next (none after cutover's
// complete, nor from complete / rolled_back).
std::optional<Phase> next_phase(Phase phase);

// What a phase allows next, as the names a user can request:
// e.g. {"dual_write", "rolled_back"} for copying; empty for complete.
std::vector<std::string_view> allowed_requests(Phase phase);

// coord.migration_advance(migration_id, requested). `requested` is the phase
// name the caller asked for. Returns the new phase.
//   unknown phase name          -> 22023 invalid_parameter_value
//   anything but the next phase -> PC003 invalid_transition
Phase decide_advance(std::int64_t migration_id, Phase current, std::string_view requested);

// coord.migration_rollback(migration_id): rolled_back from every active
// phase; PC003 from complete and rolled_back.
Phase decide_rollback(std::int64_t migration_id, Phase current);

// coord.migration_start on a shard whose latest migration is in `latest`
// (nullopt: never migrated). PC003 while a migration is active.
void check_can_start(std::string_view shard, std::optional<std::int64_t> latest_id,
                     std::optional<Phase> latest);

}  // namespace coord
