#include "pg/common/datum.hpp"

extern "C" {
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace coord::pg {

std::optional<std::string_view> Args::get_text(int i) const {
    if (is_null(i)) return std::nullopt;
    ::text* value = pg_call([&] { return PG_GETARG_TEXT_PP(i); });
    return std::string_view(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value));
}

std::optional<std::int64_t> Args::get_int64(int i) const {
    if (is_null(i)) return std::nullopt;
    return PG_GETARG_INT64(i);
}

std::optional<std::int32_t> Args::get_int32(int i) const {
    if (is_null(i)) return std::nullopt;
    return PG_GETARG_INT32(i);
}

std::optional<bool> Args::get_boolean(int i) const {
    if (is_null(i)) return std::nullopt;
    return PG_GETARG_BOOL(i);
}

std::optional<IntervalParts> Args::get_interval(int i) const {
    if (is_null(i)) return std::nullopt;
    Interval* value = PG_GETARG_INTERVAL_P(i);
    return IntervalParts{value->month, value->day, value->time};
}

std::optional<Micros> Args::get_timestamptz(int i) const {
    if (is_null(i)) return std::nullopt;
    return PG_GETARG_TIMESTAMPTZ(i);
}

std::optional<Datum> Args::get_datum(int i) const {
    if (is_null(i)) return std::nullopt;
    return PG_GETARG_DATUM(i);
}

Micros now_micros() { return GetCurrentTimestamp(); }

TextBytes copy_text_bytes(Datum value) {
    text* t = pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(value)));
    std::size_t length = VARSIZE_ANY_EXHDR(t);
    char* copy = static_cast<char*>(palloc(length + 1));
    memcpy(copy, VARDATA_ANY(t), length);
    copy[length] = '\0';
    return {copy, length};
}

Datum text_datum(std::string_view value) {
    return pg_call([&] {
        return PointerGetDatum(cstring_to_text_with_len(value.data(), static_cast<int>(value.size())));
    });
}

Datum interval_datum(Micros v) {
    return pg_call([&] {
        Interval* result = static_cast<Interval*>(palloc0(sizeof(Interval)));
        result->time = v;
        return IntervalPGetDatum(result);
    });
}

Datum text_array_datum(const std::vector<std::string>& items) {
    return pg_call([&] {
        int n = static_cast<int>(items.size());
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
        for (int i = 0; i < n; ++i)
            elems[i] = PointerGetDatum(
                cstring_to_text_with_len(items[i].data(), static_cast<int>(items[i].size())));
        return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
    });
}

void begin_result_set(FunctionCallInfo fcinfo) {
    pg_call([&] {
        ReturnSetInfo* info = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        InitMaterializedSRF(fcinfo, info && info->expectedDesc ? MAT_SRF_USE_EXPECTED_DESC : 0);
    });
}

void add_result_row(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
    pg_call([&] {
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
}

}  // namespace coord::pg
