#include "core/common/error.hpp"
#include "core/common/error_capture.hpp"
#include "core/common/json.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/lock_wait.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/queue/queue_settings.hpp"
#include "pg/sweep/sweep.hpp"

extern "C" {
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "utils/resowner.h"
}

#include <algorithm>

namespace coord::pg {

namespace {

struct RegisteredStep {
    std::string name;
    SweepStep step;
};

// Function-local static: registrations run from other files' static
// initialisers, in an order C++ does not define.
std::vector<RegisteredStep>& registry() {
    static std::vector<RegisteredStep> steps;
    return steps;
}

// What a failed step raised, copied out of PostgreSQL or C++ error state.
struct StepFailure {
    std::string sqlstate;
    std::string message;
    ErrorData* pg_error = nullptr;  // when PostgreSQL raised it
};

void log_step_failure(const std::string& name, const StepFailure& failure) {
    std::string line = fmt::format("pg_coord sweep step \"{}\" failed and was rolled back: {} ({})",
                                   name, failure.message, failure.sqlstate);
    const char* text = line.c_str();
    pg_call([&] { elog(LOG, "%s", text); });
}

// Runs one step in its own subtransaction (the pattern of PL/pgSQL's
// exception blocks). Returns the failure, if any, after rolling back.
std::optional<StepFailure> run_step(SweepContext& ctx, const RegisteredStep& step) {
    MemoryContext outer_context = CurrentMemoryContext;
    ResourceOwner outer_owner = CurrentResourceOwner;
    pg_call([&] {
        BeginInternalSubTransaction(nullptr);
        MemoryContextSwitchTo(outer_context);
    });
    std::size_t counts_before = ctx.counts.size();
    std::optional<StepFailure> failure;
    try {
        step.step(ctx);
        pg_call([&] {
            ReleaseCurrentSubTransaction();
            MemoryContextSwitchTo(outer_context);
            CurrentResourceOwner = outer_owner;
        });
        return std::nullopt;
    } catch (const PgException& e) {
        failure = StepFailure{unpack_sql_state(e.data()->sqlerrcode), e.what(), e.data()};
    } catch (const Error& e) {
        failure = StepFailure{e.sqlstate(), e.what()};
    } catch (const std::exception& e) {
        failure = StepFailure{sqlstate::internal_error, e.what()};
    } catch (...) {
        failure = StepFailure{sqlstate::internal_error, "unknown C++ exception"};
    }
    ctx.counts.resize(counts_before);
    pg_call([&] {
        MemoryContextSwitchTo(outer_context);
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(outer_context);
        CurrentResourceOwner = outer_owner;
    });
    // A cancel, a statement timeout or a shutdown request ends the whole
    // sweep, it is not a step's failure.
    if (failure->pg_error && failure->sqlstate.rfind("57", 0) == 0)
        throw PgException(failure->pg_error);
    log_step_failure(step.name, *failure);
    return failure;
}

// Sweeps take turns on a heavyweight lock of the pg_coord extension object
// with object sub-id 1 (in pg_locks: locktype object, classid pg_extension,
// objid the extension's OID, objsubid 1), which no SQL statement can take:
// PostgreSQL locks an extension only as a whole (sub-id 0: ALTER, COMMENT,
// DROP EXTENSION ...), and the advisory locks any role may take have a lock
// type of their own. (An advisory lock key served until 0.1: any role could
// hold it and stall every sweep.)
constexpr uint16 kSweepLockSubId = 1;

// Waits at most one coord.sweep_interval for the sweep lock; false when
// another sweep held it all that time (a slow one, or a coord.sweep() left
// open in a transaction), and this sweep then runs alongside it. That is
// safe: every step is a compare-and-set against current state and skips
// the rows another transaction has locked; the lock only keeps two sweeps
// from doing the same work twice.
bool take_sweep_lock() {
    Oid extension = pg_call([] { return get_extension_oid("pg_coord", false); });
    return with_lock_wait_limit(sweep_interval(), [&] {
        pg_call([&] { LockDatabaseObject(ExtensionRelationId, extension, kSweepLockSubId, ExclusiveLock); });
    });
}

}  // namespace

SweepStepRegistration::SweepStepRegistration(const char* name, SweepStep step) {
    registry().push_back(RegisteredStep{name, step});
}

std::string run_sweep(Spi& spi) {
    bool alone = take_sweep_lock();

    std::vector<RegisteredStep> steps = registry();
    std::stable_sort(steps.begin(), steps.end(),
                     [](const RegisteredStep& a, const RegisteredStep& b) { return a.name < b.name; });

    SweepContext ctx{spi, now_micros(), {}};
    if (!alone) ctx.counts.emplace_back("alongside_another_sweep", 1);
    std::vector<std::string> failed;
    for (const RegisteredStep& step : steps)
        if (run_step(ctx, step)) failed.push_back(step.name);
    metrics::note_sweep(ctx.now, now_micros() - ctx.now, !failed.empty());

    // Counts with the same name (from several steps) add up; first-seen order.
    std::vector<std::pair<std::string, std::int64_t>> merged;
    for (const auto& [name, n] : ctx.counts) {
        auto it = std::find_if(merged.begin(), merged.end(),
                               [&](const auto& m) { return m.first == name; });
        if (it == merged.end())
            merged.emplace_back(name, n);
        else
            it->second += n;
    }
    std::string json = "{";
    for (const auto& [name, n] : merged) {
        if (json.size() > 1) json += ", ";
        json += json_quote(name);
        json += fmt::format(": {}", n);
    }
    if (!failed.empty()) {
        if (json.size() > 1) json += ", ";
        json += "\"failed_steps\": [";
        for (std::size_t i = 0; i < failed.size(); ++i) {
            if (i) json += ", ";
            json += json_quote(failed[i]);
        }
        json += "]";
    }
    json += "}";
    return json;
}

}  // namespace coord::pg

COORD_FUNCTION(coord_sweep) {
    std::string json;
    {
        coord::pg::Spi spi;
        json = coord::pg::run_sweep(spi);
    }
    const char* text = json.c_str();
    return coord::pg::pg_call([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(text)); });
}
