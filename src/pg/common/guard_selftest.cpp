// Test-only entry points that prove the error boundary (sql/error_boundary.sql
// creates them; the extension script does not). One throws C++ exceptions of
// each kind; one raises a PostgreSQL ERROR beneath C++ frames that own objects
// with destructors and counts that those destructors ran.
#include "core/common/error.hpp"
#include "pg/common/datum.hpp"

#include <stdexcept>

using namespace coord;
using namespace coord::pg;

namespace {

int destructors_run = 0;

struct CountsDestruction {
    std::string payload = std::string(64, 'x');  // owns heap memory
    ~CountsDestruction() { ++destructors_run; }
};

}  // namespace

COORD_FUNCTION(coord_selftest_throw) {
    Args args(fcinfo);
    std::string kind(args.get_text(0).value_or(""));
    CountsDestruction alive;
    if (kind == "coord")
        throw Error(sqlstate::invalid_transition, "a coord::Error", "with a detail", "and a hint");
    if (kind == "std") throw std::runtime_error("a std::runtime_error");
    if (kind == "bad_alloc") throw std::bad_alloc();
    if (kind == "int") throw 42;
    if (kind == "raise") {
        // int4 division by zero raises 22012 from inside PostgreSQL.
        pg_call([] { return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
    }
    return Int32GetDatum(destructors_run);
}

COORD_FUNCTION(coord_selftest_destructors_run) { return Int32GetDatum(destructors_run); }
