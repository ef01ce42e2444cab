// SQL entry points of the ledger (extension/sql/20_ledger.sql). The rules
// live in core/ledger.hpp; this file reads arguments, checks the fence,
// runs the statements and builds results.
#include "core/error.hpp"
#include "core/ledger.hpp"
#include "core/validate.hpp"
#include "pg/datum.hpp"
#include "pg/leases.hpp"

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

struct PostResult {
    std::int64_t entry_id;
    bool inserted;
    std::string status;
};

StoredEntry stored_entry_from(const Row& row) {
    StoredEntry e;
    e.entry_id = row.get_int64(1).value_or(0);
    e.cycle_id = row.get_text(2).value_or("");
    e.account = row.get_text(3).value_or("");
    e.amount = row.get_text(4).value_or("");
    e.currency = row.get_text(5).value_or("");
    return e;
}

// Inserts the entry unless its key exists; a replay returns the stored one.
// Concurrent posts of one key: the unique index makes every session but one
// wait for the first inserter and then skip; their re-read (a new snapshot
// in READ COMMITTED) finds the committed row, so all get the same entry_id.
PostResult insert_or_replay(Spi& spi, const PostRequest& request, const std::optional<Fence>& fence) {
    static Statement insert(
        "INSERT INTO coord.ledger_entries "
        "(idempotency_key, cycle_id, account, amount, currency, fence_name, fence_token) "
        "VALUES ($1, $2, $3, $4::pg_catalog.numeric, $5, $6, $7) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING entry_id",
        {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID});
    static Statement find(
        "SELECT entry_id, cycle_id, account, amount::pg_catalog.text, currency, status "
        "FROM coord.ledger_entries WHERE idempotency_key = $1",
        {TEXTOID});
    for (int round = 0; round < 2; ++round) {
        spi.run(insert, {text_param(request.idempotency_key), text_param(request.cycle_id),
                         text_param(request.account), text_param(request.amount),
                         text_param(request.currency),
                         text_param(fence ? std::optional<std::string_view>(fence->name) : std::nullopt),
                         int64_param(fence ? std::optional<std::int64_t>(fence->token) : std::nullopt)});
        if (auto row = spi.first_row()) return {row->get_int64(1).value_or(0), true, "pending"};
        spi.run(find, {text_param(request.idempotency_key)});
        if (auto row = spi.first_row()) {
            check_replay(stored_entry_from(*row), request);
            return {row->get_int64(1).value_or(0), false, row->get_text(6).value_or("")};
        }
        // Ledger rows are never deleted, so the conflicting row is visible
        // now; a second round only guards against the impossible.
    }
    throw Error(sqlstate::internal_error,
                fmt::format("ledger entry with idempotency_key \"{}\" could not be read after a "
                            "conflicting insert",
                            request.idempotency_key));
}

// Sets a RETURNS TABLE function's single result row.
Datum one_row_result(FunctionCallInfo fcinfo, Datum* values, bool* nulls) {
    pg_call([&] {
        InitMaterializedSRF(fcinfo, 0);
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    });
    return Datum(0);
}

}  // namespace

COORD_FUNCTION(coord_ledger_post) {
    Args args(fcinfo);
    PostRequest request = make_post_request(args.get_text(0), args.get_text(1),
                                            numeric_text_arg(args, 2), args.get_text(3),
                                            args.get_text(4));
    std::optional<Fence> fence = optional_fence(args.get_text(5), args.get_int64(6));
    PostResult result;
    {
        Spi spi;
        if (fence) verify_fence(spi, fence->name, fence->token);
        result = insert_or_replay(spi, request, fence);
    }
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

    static Statement lock_entry(
        "SELECT status, external_ref FROM coord.ledger_entries WHERE entry_id = $1 "
        "FOR NO KEY UPDATE",
        {INT8OID});
    static Statement settle(
        "UPDATE coord.ledger_entries SET status = $2, external_ref = $3, "
        "settled_at = pg_catalog.clock_timestamp() WHERE entry_id = $1",
        {INT8OID, TEXTOID, TEXTOID});
    Spi spi;
    if (fence) verify_fence(spi, fence->name, fence->token);
    spi.run(lock_entry, {int64_param(entry_id)});
    std::optional<Row> row = spi.first_row();
    if (!row)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("ledger entry {} does not exist", entry_id));
    SettleState current{parse_stored_status(row->get_text(1).value_or("")), row->get_text(2)};
    if (!decide_settle(entry_id, current, status, external_ref)) return BoolGetDatum(false);
    spi.run(settle, {int64_param(entry_id), text_param(to_string(status)), text_param(external_ref)});
    return BoolGetDatum(true);
}
