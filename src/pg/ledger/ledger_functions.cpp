// SQL entry points of the ledger (extension/sql/20_ledger.sql). The rules
// live in core/ledger.hpp; this file reads arguments, checks the fence,
// runs the statements and builds results.
#include "core/common/error.hpp"
#include "core/ledger/ledger.hpp"
#include "core/common/validate.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/ledger/ledger_store.hpp"

using namespace coord;
using namespace coord::pg;

namespace {

// numeric_out of a numeric argument ("12.50", "NaN", "-Infinity").
std::optional<std::string_view> numeric_text_arg(const Args& args, int i) {
    std::optional<Datum> value = args.get_datum(i);
    if (!value) return std::nullopt;
    const char* text = pg_call([&] { return DatumGetCString(DirectFunctionCall1(numeric_out, *value)); });
    return std::string_view(text);
}

// Sets a RETURNS TABLE function's single result row.
Datum one_row_result(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
    begin_result_set(fcinfo);
    add_result_row(fcinfo, values, nulls);
    return Datum(0);
}

}  // namespace

COORD_FUNCTION(coord_ledger_post) {
    Args args(fcinfo);
    PostRequest request = make_post_request(args.get_text(0), args.get_text(1),
                                            numeric_text_arg(args, 2), args.get_text(3),
                                            args.get_text(4));
    std::optional<Fence> fence = optional_fence(args.get_text(5), args.get_int64(6));
    PostResult result = post_entry(request, fence, CallingRole());
    Datum values[3] = {int64_datum(result.entry_id), BoolGetDatum(result.inserted),
                       text_datum(result.status)};
    bool nulls[3] = {false, false, false};
    return one_row_result(fcinfo, values, nulls);
}

COORD_FUNCTION(coord_ledger_settle) {
    Args args(fcinfo);
    std::int64_t entry_id = require_present(args.get_int64(0), "entry_id");
    EntryStatus status = require_settle_status(args.get_text(1));
    std::optional<std::string_view> external_ref = args.get_text(2);
    if (external_ref) require_text(external_ref, "external_ref", kMaxExternalRefBytes);
    std::optional<Fence> fence = optional_fence(args.get_text(3), args.get_int64(4));

    CallingRole caller;
    Spi spi;
    return BoolGetDatum(settle_entry(spi, entry_id, status, external_ref, fence, caller));
}
