// Test-only entry points for the sweep and the alerts (sql/alerts.sql creates
// them; the extension script does not): sync_alerts called directly, and a
// sweep step that fails on request, to show that a failing step is rolled
// back and reported while the other steps still run.
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "pg/sweep/alerts.hpp"
#include "pg/common/datum.hpp"
#include "pg/sweep/sweep.hpp"

using namespace coord;
using namespace coord::pg;

namespace {

// "", "succeed", "throw" (a coord::Error) or "raise" (a PostgreSQL ERROR); the step
// first raises an alert of kind "selftest", which the failure must undo.
std::string failure_armed;

void selftest_step(SweepContext& ctx) {
    if (failure_armed.empty()) return;
    std::string mode = failure_armed;
    failure_armed.clear();
    sync_alerts(ctx.spi, "selftest", {FiringAlert{"written-before-failure", "{}"}});
    ctx.counts.emplace_back("selftest_rows_written", 1);
    if (mode == "succeed") return;
    if (mode == "throw") throw Error(sqlstate::invalid_transition, "selftest step failed on request");
    pg_call([] { return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
}

SweepStepRegistration registration("selftest", &selftest_step);

}  // namespace

// regress.selftest_fail_next_sweep_step(mode text): the next sweep's
// "selftest" step fails (mode 'throw' or 'raise').
COORD_FUNCTION(coord_selftest_fail_next_sweep_step) {
    Args args(fcinfo);
    failure_armed = std::string(require_present(args.get_text(0), "mode"));
    return Datum(0);
}

// regress.selftest_sync_alerts(kind text, firing jsonb): firing is an object
// {subject: detail, ...}; returns {"raised": n, "resolved": m}.
COORD_FUNCTION(coord_selftest_sync_alerts) {
    Args args(fcinfo);
    std::string kind(require_present(args.get_text(0), "kind"));
    Datum firing_json = require_present(args.get_datum(1), "firing");
    std::string result;
    {
        Spi spi;
        static Statement each("SELECT key, value::text FROM pg_catalog.jsonb_each($1) ORDER BY key",
                              {JSONBOID});
        std::vector<FiringAlert> firing;
        std::uint64_t n = spi.run(each, {datum_param(JSONBOID, firing_json)});
        for (std::uint64_t i = 0; i < n; ++i)
            firing.push_back(FiringAlert{spi.row(i).get_text(1).value_or(""),
                                         spi.row(i).get_text(2).value_or("")});
        AlertSyncCounts counts = sync_alerts_counted(spi, kind, firing);
        result = fmt::format("{{\"raised\": {}, \"resolved\": {}}}", counts.raised, counts.resolved);
    }
    const char* text = result.c_str();
    return pg_call([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(text)); });
}
