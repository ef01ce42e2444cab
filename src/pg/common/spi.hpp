// SPI behind the error boundary: one connection per SQL function call,
// prepared statements planned once per backend and kept, rows copied out
// into C++ values before the connection closes. Every statement is planned
// and run as the extension owner with search_path pinned (OwnerSql,
// run_as_owner.hpp): the functions that call it may have invoker rights.
#pragma once

#include "core/common/time.hpp"
#include "pg/common/guard.hpp"

#include <initializer_list>

namespace coord::pg {

// One statement parameter.
struct Param {
    Oid type;
    Datum value;
    bool null;
};

Param text_param(std::optional<std::string_view> value);
Param int64_param(std::optional<std::int64_t> value);
Param int32_param(std::optional<std::int32_t> value);
Param bool_param(std::optional<bool> value);
Param timestamptz_param(std::optional<Micros> value);
Param interval_param(std::optional<Micros> value);
Param datum_param(Oid type, std::optional<Datum> value);
// A role OID as regrole.
Param role_param(Oid role);

// A statement prepared on first use and kept for the life of the backend.
// Define them as function-local statics next to the code that runs them.
class Statement {
public:
    static constexpr int kMaxParams = 16;
    // generic_plan: always use the generic plan (CURSOR_OPT_GENERIC_PLAN), for
    // hot statements whose generic plan is known good; otherwise the plan
    // cache may re-plan a custom plan on every execution.
    Statement(const char* sql, std::initializer_list<Oid> types, bool generic_plan = false);
    SPIPlanPtr plan();
    const char* sql() const { return sql_; }

private:
    const char* sql_;
    Oid types_[kMaxParams];
    int count_;
    bool generic_plan_;
    SPIPlanPtr plan_ = nullptr;
};

// A result row. Each getter checks the column's type first (55000 when it
// is not the type read: a table column an administrator changed is
// reported, never reinterpreted).
class Row {
public:
    Row(HeapTuple tuple, TupleDesc desc) : tuple_(tuple), desc_(desc) {}
    bool is_null(int column) const;  // columns count from 1
    std::optional<std::string> get_text(int column) const;
    std::optional<std::int64_t> get_int64(int column) const;
    std::optional<std::int32_t> get_int32(int column) const;
    std::optional<bool> get_boolean(int column) const;
    std::optional<Micros> get_timestamptz(int column) const;
    std::optional<double> get_float8(int column) const;
    std::optional<Oid> get_oid(int column) const;  // oid, regrole, ...
    // The raw Datum, copied into the caller's context `into` (for jsonb etc.).
    std::optional<Datum> get_datum_copy(int column, MemoryContext into) const;

private:
    void require_type(int column, Oid expected) const;
    Datum raw(int column, bool* isnull) const;
    HeapTuple tuple_;
    TupleDesc desc_;
};

class Spi {
public:
    Spi();
    ~Spi();
    Spi(const Spi&) = delete;
    Spi& operator=(const Spi&) = delete;

    // Runs the statement; returns the number of rows processed.
    std::uint64_t run(Statement& statement, std::initializer_list<Param> params, long limit = 0);
    // Runs a one-off statement without parameters (DDL-free maintenance SQL).
    std::uint64_t run_sql(const char* sql, long limit = 0);

    std::uint64_t rows() const;
    Row row(std::uint64_t i) const;
    std::optional<Row> first_row() const;

    // The memory context that was current before SPI connected: results
    // that outlive the call are allocated there.
    MemoryContext caller_context() const { return caller_context_; }

private:
    MemoryContext caller_context_;
    int uncaught_at_start_;
};

}  // namespace coord::pg
