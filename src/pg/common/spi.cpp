#include "core/common/error.hpp"
#include "pg/common/spi.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/run_as_owner.hpp"

#include <algorithm>
#include <exception>

namespace coord::pg {

Param text_param(std::optional<std::string_view> value) {
    if (!value) return {TEXTOID, Datum(0), true};
    return {TEXTOID, text_datum(*value), false};
}
Param int64_param(std::optional<std::int64_t> value) {
    return {INT8OID, value ? Int64GetDatum(*value) : Datum(0), !value};
}
Param int32_param(std::optional<std::int32_t> value) {
    return {INT4OID, value ? Int32GetDatum(*value) : Datum(0), !value};
}
Param bool_param(std::optional<bool> value) {
    return {BOOLOID, value ? BoolGetDatum(*value) : Datum(0), !value};
}
Param timestamptz_param(std::optional<Micros> value) {
    return {TIMESTAMPTZOID, value ? TimestampTzGetDatum(*value) : Datum(0), !value};
}
Param interval_param(std::optional<Micros> value) {
    if (!value) return {INTERVALOID, Datum(0), true};
    return {INTERVALOID, interval_datum(*value), false};
}
Param role_param(Oid role) { return {REGROLEOID, ObjectIdGetDatum(role), false}; }
Param datum_param(Oid type, std::optional<Datum> value) {
    return {type, value.value_or(Datum(0)), !value};
}

Statement::Statement(const char* sql, std::initializer_list<Oid> types, bool generic_plan)
    : sql_(sql), count_(static_cast<int>(types.size())), generic_plan_(generic_plan) {
    std::copy(types.begin(), types.begin() + std::min<int>(count_, kMaxParams), types_);
}

SPIPlanPtr Statement::plan() {
    if (plan_ != nullptr) return plan_;
    int options = generic_plan_ ? CURSOR_OPT_GENERIC_PLAN : 0;
    SPIPlanPtr prepared = pg_call([&] { return SPI_prepare_cursor(sql_, count_, types_, options); });
    if (prepared == nullptr)
        throw Error(sqlstate::internal_error,
                    fmt::format("pg_coord could not prepare a statement: {}",
                                SPI_result_code_string(SPI_result)));
    pg_call([&] { SPI_keepplan(prepared); });
    plan_ = prepared;
    return plan_;
}

void Row::require_type(int column, Oid expected) const {
    if (column < 1 || column > desc_->natts)
        throw Error(sqlstate::internal_error,
                    fmt::format("pg_coord read column {} of a row of {} columns", column, desc_->natts));
    Form_pg_attribute attribute = TupleDescAttr(desc_, column - 1);
    Oid found = attribute->atttypid;
    if (found == expected || (expected == TEXTOID && found == VARCHAROID)) return;
    const char* found_name = pg_call([&] { return format_type_be(found); });
    const char* expected_name = pg_call([&] { return format_type_be(expected); });
    throw Error(sqlstate::object_not_in_prerequisite_state,
                fmt::format("result column \"{}\" of a pg_coord statement has type {}, not {}",
                            NameStr(attribute->attname), found_name, expected_name),
                {}, "A column of a pg_coord table was changed; restore it as the extension "
                    "created it.");
}

Datum Row::raw(int column, bool* isnull) const {
    return pg_call([&] { return SPI_getbinval(tuple_, desc_, column, isnull); });
}

bool Row::is_null(int column) const {
    bool isnull = false;
    raw(column, &isnull);
    return isnull;
}

std::optional<std::string> Row::get_text(int column) const {
    bool isnull = false;
    require_type(column, TEXTOID);
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    ::text* value = pg_call([&] { return pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(d))); });
    return std::string(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

std::optional<std::int64_t> Row::get_int64(int column) const {
    bool isnull = false;
    require_type(column, INT8OID);
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetInt64(d);
}

std::optional<std::int32_t> Row::get_int32(int column) const {
    bool isnull = false;
    require_type(column, INT4OID);
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetInt32(d);
}

std::optional<bool> Row::get_boolean(int column) const {
    bool isnull = false;
    require_type(column, BOOLOID);
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetBool(d);
}

std::optional<Micros> Row::get_timestamptz(int column) const {
    bool isnull = false;
    require_type(column, TIMESTAMPTZOID);
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetTimestampTz(d);
}

std::optional<Oid> Row::get_oid(int column) const {
    bool isnull = false;
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetObjectId(d);
}

std::optional<double> Row::get_float8(int column) const {
    bool isnull = false;
    require_type(column, FLOAT8OID);
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetFloat8(d);
}

std::optional<Datum> Row::get_datum_copy(int column, MemoryContext into) const {
    bool isnull = false;
    Datum d = raw(column, &isnull);
    if (isnull) return std::nullopt;
    Form_pg_attribute attr = TupleDescAttr(desc_, column - 1);
    return pg_call([&] {
        MemoryContext old = MemoryContextSwitchTo(into);
        Datum copy = datumCopy(d, attr->attbyval, attr->attlen);
        MemoryContextSwitchTo(old);
        return copy;
    });
}

Spi::Spi() : caller_context_(CurrentMemoryContext), uncaught_at_start_(std::uncaught_exceptions()) {
    int rc = pg_call([] { return SPI_connect(); });
    if (rc != SPI_OK_CONNECT)
        throw Error(sqlstate::internal_error, "pg_coord could not connect to SPI");
}

Spi::~Spi() {
    // While an exception unwinds, the transaction is about to abort and its
    // cleanup (AtEOXact_SPI) closes the connection; calling SPI_finish on a
    // half-run executor state would be unsafe.
    if (std::uncaught_exceptions() == uncaught_at_start_) SPI_finish();
}

std::uint64_t Spi::run(Statement& statement, std::initializer_list<Param> params, long limit) {
    Datum values[Statement::kMaxParams];
    char nulls[Statement::kMaxParams];
    int i = 0;
    for (const Param& p : params) {
        values[i] = p.value;
        nulls[i] = p.null ? 'n' : ' ';
        ++i;
    }
    OwnerSql as_owner;  // planned and run as the extension owner, search_path pinned
    SPIPlanPtr plan = statement.plan();
    int rc = pg_call([&] { return SPI_execute_plan(plan, values, nulls, false, limit); });
    as_owner.leave();
    if (rc < 0)
        throw Error(sqlstate::internal_error,
                    fmt::format("pg_coord statement failed ({}): {}", SPI_result_code_string(rc),
                                statement.sql()));
    return SPI_processed;
}

std::uint64_t Spi::run_sql(const char* sql, long limit) {
    OwnerSql as_owner;
    int rc = pg_call([&] { return SPI_execute(sql, false, limit); });
    as_owner.leave();
    if (rc < 0)
        throw Error(sqlstate::internal_error,
                    fmt::format("pg_coord statement failed ({}): {}", SPI_result_code_string(rc), sql));
    return SPI_processed;
}

std::uint64_t Spi::rows() const { return SPI_processed; }

Row Spi::row(std::uint64_t i) const { return Row(SPI_tuptable->vals[i], SPI_tuptable->tupdesc); }

std::optional<Row> Spi::first_row() const {
    if (SPI_processed == 0 || SPI_tuptable == nullptr) return std::nullopt;
    return row(0);
}

}  // namespace coord::pg
