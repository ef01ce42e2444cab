// Reading arguments and building results, every PostgreSQL call behind
// pg_call. Text arguments are returned as views into detoasted, palloc'd
// memory that lives for the rest of the call.
#pragma once

#include "core/common/time.hpp"
#include "pg/common/guard.hpp"

#include <vector>

namespace coord::pg {

class Args {
public:
    explicit Args(FunctionCallInfo call) : fcinfo(call) {}

    // An argument past the SQL declaration (an older version's shorter
    // signature calling this library) reads as NULL.
    bool is_null(int i) const { return i >= fcinfo->nargs || PG_ARGISNULL(i); }
    std::optional<std::string_view> get_text(int i) const;
    std::optional<std::int64_t> get_int64(int i) const;
    std::optional<std::int32_t> get_int32(int i) const;
    std::optional<bool> get_boolean(int i) const;
    std::optional<IntervalParts> get_interval(int i) const;  // see validate.hpp, require_duration
    std::optional<Micros> get_timestamptz(int i) const;
    std::optional<Datum> get_datum(int i) const;

private:
    FunctionCallInfo fcinfo;
};

// The server's clock_timestamp(), in microseconds.
Micros now_micros();

Datum text_datum(std::string_view value);

// The bytes of a text Datum copied into palloc'd memory of the current
// memory context (NUL-terminated), for a reader that must let go of the
// buffer it read the row from. Inside pg_call.
struct TextBytes {
    const char* data;
    std::size_t length;
};
TextBytes copy_text_bytes(Datum value);
inline Datum int64_datum(std::int64_t v) { return Int64GetDatum(v); }
inline Datum timestamptz_datum(Micros v) { return TimestampTzGetDatum(v); }
Datum interval_datum(Micros v);
// text[] from strings, allocated in the current memory context.
Datum text_array_datum(const std::vector<std::string>& items);

// Set-returning functions answer in materialize mode: begin_result_set once,
// then add_result_row per row. The row type comes from the call site when
// the executor knows it (a call in FROM), else from the catalog.
void begin_result_set(FunctionCallInfo fcinfo);
void add_result_row(FunctionCallInfo fcinfo, Datum* values, bool* nulls);

// Sets the function's result to SQL NULL.
inline Datum null_result(FunctionCallInfo fcinfo) {
    fcinfo->isnull = true;
    return Datum(0);
}

}  // namespace coord::pg
