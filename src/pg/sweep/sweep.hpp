// The sweep: every periodic check and repair of pg_coord, as registered
// steps. coord.sweep() and each background-worker sweep run all steps, in
// name order, in one transaction; each step in its own subtransaction, so a
// failing step is logged, rolled back and reported while the others still
// run. Steps must be compare-and-set against current state (another sweep
// or a client may have changed a row since it was read), and must not wait
// for rows another transaction has locked (SKIP LOCKED, or a bounded wait,
// pg/common/lock_wait.hpp): a coord.sweep() left open in a transaction keeps
// the rows it changed locked, and the other sweeps must go on without them.
#pragma once

#include "core/common/time.hpp"
#include "pg/common/spi.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace coord::pg {

struct SweepContext {
    Spi& spi;
    Micros now;  // clock_timestamp() when the sweep started
    std::vector<std::pair<std::string, std::int64_t>> counts;  // appended by the steps
};

using SweepStep = void (*)(SweepContext&);

// Registers a step when the library loads: in the step's own glue file,
//   static SweepStepRegistration reg("migration_lag", &my_step);
struct SweepStepRegistration {
    SweepStepRegistration(const char* name, SweepStep step);
};

// Runs every registered step in `spi`'s transaction, after other sweeps:
// it waits for the sweep lock (held until the transaction ends) at most one
// coord.sweep_interval, then runs alongside whatever sweep still holds it.
// Returns the counts as a JSON object: {"<count name>": n, ...,
// "failed_steps": [..]} (failed_steps only when a step failed, its error is
// in the server log; "alongside_another_sweep": 1 only when the wait ran
// out).
std::string run_sweep(Spi& spi);

}  // namespace coord::pg
