// SQL entry points of auctions (extension/sql/64_auctions.sql), on the
// compare-and-swap mechanism: read the auction's row, let the core decide,
// write only if the count of accepted bids is still the one read (else read
// again and decide again). Invoker rights: the role is taken at entry, the
// SQL runs as the extension's owner.
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "core/registers/auction.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/spi.hpp"
#include "pg/registers/write_attempt.hpp"

extern "C" {
#include "utils/builtins.h"
}

using namespace coord;
using namespace coord::pg;

namespace {

// A change that keeps missing a concurrent one.
constexpr int kMaxRounds = 100;

std::optional<AuctionState> read_auction(Spi& spi, std::string_view auction) {
    static Statement select(
        "SELECT opened_by::pg_catalog.oid, closes_at, closed_at, reserve::pg_catalog.text, "
        "high_bidder, high_amount::pg_catalog.text, bids "
        "FROM coord.auction_state WHERE auction = $1",
        {TEXTOID}, /*generic_plan=*/true);
    spi.run(select, {text_param(auction)});
    std::optional<Row> row = spi.first_row();
    if (!row) return std::nullopt;
    AuctionState s;
    s.opened_by = static_cast<RoleId>(row->get_oid(1).value_or(InvalidOid));
    s.closes_at = row->get_timestamptz(2).value_or(0);
    s.closed_at = row->get_timestamptz(3);
    s.reserve = parse_amount(row->get_text(4).value_or("0"), "reserve");
    s.high_bidder = row->get_text(5);
    if (s.high_bidder) s.high_amount = parse_amount(row->get_text(6).value_or("0"), "high_amount");
    s.bids = row->get_int64(7).value_or(0);
    return s;
}

AuctionState require_auction(Spi& spi, std::string_view auction) {
    std::optional<AuctionState> state = read_auction(spi, auction);
    if (!state)
        throw Error(sqlstate::undefined_object, fmt::format("auction \"{}\" does not exist", auction),
                    "", "Open it first with coord.auction_open.");
    return *state;
}

// One write of the auction's row decided against what was read: true when
// it wrote, false when it must be decided again (write_attempt.hpp). A bid
// decided while another transaction is changing the row is decided again
// once that one has ended.
bool write_auction_row(std::string_view auction, const std::function<bool()>& write) {
    KeyedRow row{CoordRelation::auction_state, CoordRelation::auction_state_pkey, auction};
    if (row.wait_for_writer()) return false;
    return row.write(write);
}

Datum numeric_datum(Amount amount) {
    std::string text = format_amount(amount);
    const char* c = text.c_str();
    return pg_call([&] {
        return DirectFunctionCall3(numeric_in, CStringGetDatum(c), ObjectIdGetDatum(InvalidOid),
                                   Int32GetDatum(-1));
    });
}

Amount amount_arg(const Args& args, int i, const char* param) {
    Datum value = require_present(args.get_datum(i), param);
    std::string text = pg_call([&] { return DatumGetCString(DirectFunctionCall1(numeric_out, value)); });
    return parse_amount(text, param);
}

std::string_view auction_arg(const Args& args, int i) {
    return require_text(args.get_text(i), "auction", kMaxAuctionNameBytes);
}

struct BidAnswer {
    bool leading;
    std::optional<std::string> high_bidder;
    Amount high_amount;
};

BidAnswer place_bid(Spi& spi, const Caller& caller, std::string_view auction,
                    std::string_view bidder, Amount amount) {
    static Statement update(
        "UPDATE coord.auction_state SET high_bidder = $2, high_amount = $3::pg_catalog.numeric, "
        "high_bidder_role = $4, high_bid_at = pg_catalog.clock_timestamp(), bids = bids + 1 "
        "WHERE auction = $1 AND bids = $5 AND closed_at IS NULL",
        {TEXTOID, TEXTOID, TEXTOID, OIDOID, INT8OID}, /*generic_plan=*/true);
    std::string amount_text = format_amount(amount);
    for (int round = 0; round < kMaxRounds; ++round) {
        AuctionState state = require_auction(spi, auction);
        if (decide_bid(state, auction, amount, now_micros()) == BidOutcome::rejected)
            return {false, state.high_bidder, state.high_amount};
        // An open change of the row is waited for, and the bid decided again
        // against it; a lost race keeps no lock (write_attempt.hpp).
        if (write_auction_row(auction, [&] {
                return spi.run(update, {text_param(auction), text_param(bidder),
                                        text_param(amount_text),
                                        datum_param(OIDOID, ObjectIdGetDatum(caller.role())),
                                        int64_param(state.bids)}) == 1;
            }))
            return {true, std::string(bidder), amount};
    }
    throw Error(sqlstate::serialization_failure,
                fmt::format("auction \"{}\" kept changing concurrently; retry", auction));
}

AuctionState close_auction(Spi& spi, const Caller& caller, std::string_view auction) {
    static Statement update(
        "UPDATE coord.auction_state SET closed_at = $2 "
        "WHERE auction = $1 AND bids = $3 AND closed_at IS NULL",
        {TEXTOID, TIMESTAMPTZOID, INT8OID}, /*generic_plan=*/true);
    for (int round = 0; round < kMaxRounds; ++round) {
        AuctionState state = require_auction(spi, auction);
        Micros now = now_micros();
        if (decide_close(state, caller, auction, now) == CloseOutcome::already_closed) return state;
        Micros closed_at = closed_at_for(state, now);
        if (write_auction_row(auction, [&] {
                return spi.run(update, {text_param(auction), timestamptz_param(closed_at),
                                        int64_param(state.bids)}) == 1;
            })) {
            state.closed_at = closed_at;
            return state;
        }
    }
    throw Error(sqlstate::serialization_failure,
                fmt::format("auction \"{}\" kept changing concurrently; retry", auction));
}

void open_auction(Spi& spi, const Caller& caller, std::string_view auction, Micros closes_at,
                  Amount reserve) {
    static Statement insert(
        "INSERT INTO coord.auction_state (auction, opened_by, opened_at, closes_at, reserve, bids) "
        "VALUES ($1, $2, pg_catalog.clock_timestamp(), $3, $4::pg_catalog.numeric, 0) "
        "ON CONFLICT (auction) DO NOTHING",
        {TEXTOID, OIDOID, TIMESTAMPTZOID, TEXTOID}, /*generic_plan=*/true);
    for (int round = 0; round < kMaxRounds; ++round) {
        if (decide_open(read_auction(spi, auction), caller, auction, closes_at, reserve,
                        now_micros()) == OpenOutcome::unchanged)
            return;
        if (spi.run(insert, {text_param(auction), datum_param(OIDOID, ObjectIdGetDatum(caller.role())),
                             timestamptz_param(closes_at), text_param(format_amount(reserve))}) == 1)
            return;
        // Opened concurrently: decide against that one.
    }
    throw Error(sqlstate::serialization_failure,
                fmt::format("auction \"{}\" kept changing concurrently; retry", auction));
}

}  // namespace

COORD_FUNCTION(coord_auction_open) {
    CallingRole caller;
    Args args(fcinfo);
    auto auction = auction_arg(args, 0);
    Micros closes_at = require_present(args.get_timestamptz(1), "closes_at");
    if (TIMESTAMP_NOT_FINITE(closes_at))
        throw Error(sqlstate::invalid_parameter_value, "closes_at must be a finite time");
    Amount reserve = amount_arg(args, 2, "reserve");
    [&] {
        Spi spi;
        open_auction(spi, caller, auction, closes_at, reserve);
    }();
    return Datum(0);
}

COORD_FUNCTION(coord_bid) {
    CallingRole caller;
    Args args(fcinfo);
    auto auction = auction_arg(args, 0);
    auto bidder = require_text(args.get_text(1), "bidder", kMaxBidderBytes);
    Amount amount = amount_arg(args, 2, "amount");
    BidAnswer answer = [&] {
        Spi spi;
        return place_bid(spi, caller, auction, bidder, amount);
    }();
    begin_result_set(fcinfo);
    Datum values[3] = {BoolGetDatum(answer.leading),
                       answer.high_bidder ? text_datum(*answer.high_bidder) : Datum(0),
                       answer.high_bidder ? numeric_datum(answer.high_amount) : Datum(0)};
    bool nulls[3] = {false, !answer.high_bidder, !answer.high_bidder};
    add_result_row(fcinfo, values, nulls);
    return Datum(0);
}

COORD_FUNCTION(coord_auction_close) {
    CallingRole caller;
    Args args(fcinfo);
    auto auction = auction_arg(args, 0);
    AuctionState closed = [&] {
        Spi spi;
        return close_auction(spi, caller, auction);
    }();
    begin_result_set(fcinfo);
    Datum values[3] = {closed.high_bidder ? text_datum(*closed.high_bidder) : Datum(0),
                       closed.high_bidder ? numeric_datum(closed.high_amount) : Datum(0),
                       int64_datum(closed.bids)};
    bool nulls[3] = {!closed.high_bidder, !closed.high_bidder, false};
    add_result_row(fcinfo, values, nulls);
    return Datum(0);
}
