// Auctions on the compare-and-swap mechanism: an auction's row carries the
// high bid and a count of accepted bids that serves as its version. A bid
// reads the row, these rules decide, and the glue writes the new high bid
// only if the count is still the one it read; otherwise it reads again and
// decides again. So of two equal bids the first to commit leads and the
// other is decided against it, and a bid that cannot lead never waits.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/roles.hpp"
#include "core/common/time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coord {

// Money in millionths of a unit: exact, and cheap to compare.
using Amount = std::int64_t;

// Documented limits (README, "Auctions").
inline constexpr std::size_t kMaxAuctionNameBytes = 256;
inline constexpr std::size_t kMaxBidderBytes = 256;
inline constexpr int kAmountDecimals = 6;
inline constexpr Amount kAmountUnit = 1'000'000;
inline constexpr int kMaxAmountIntegerDigits = 12;  // amounts below 10^12

// An amount from a numeric's text ("5.01", "12", "NaN", "-3"): finite, not
// negative, below 10^12 and with at most 6 decimal places (trailing zeros do
// not count). Anything else is Error(invalid_parameter_value) naming `param`;
// nothing is ever rounded.
Amount parse_amount(std::string_view text, const char* param);

// "5.01", "12", "0.000001": the shortest exact decimal.
std::string format_amount(Amount amount);

// An auction's row, as far as the rules need it.
struct AuctionState {
    RoleId opened_by = 0;
    Micros closes_at = 0;
    std::optional<Micros> closed_at;  // set by coord.auction_close
    Amount reserve = 0;
    std::optional<std::string> high_bidder;  // nullopt: no bid accepted yet
    Amount high_amount = 0;
    std::int64_t bids = 0;  // accepted bids; the row's version

    bool closed_at_time(Micros now) const { return closed_at.has_value() || now >= closes_at; }
};

// A bid is accepted (and leads) only above the high bid and above the
// reserve; an equal bid never displaces the one that came first. Throws
// Error(invalid_transition) when the auction has closed (closes_at passed, or
// closed by coord.auction_close).
enum class BidOutcome { leads, rejected };
BidOutcome decide_bid(const AuctionState& state, std::string_view auction, Amount amount,
                      Micros now);

// What coord.auction_close does: nothing when it is already closed (the same
// result again), else close it. Before closes_at only the opening role (or
// coord_admin) may close it: Error(insufficient_privilege) for anyone else.
enum class CloseOutcome { already_closed, close };
CloseOutcome decide_close(const AuctionState& state, const Caller& caller,
                          std::string_view auction, Micros now);

// When an auction closed by a call at `now` counts as closed: now, or
// closes_at if that came first.
Micros closed_at_for(const AuctionState& state, Micros now);

// What coord.auction_open does with an existing auction of that name: a
// retry with the same arguments by the same role changes nothing
// (unchanged); anything else is Error(duplicate_object). Without one, a new
// auction needs closes_at in the future (Error(invalid_parameter_value)).
enum class OpenOutcome { create, unchanged };
OpenOutcome decide_open(const std::optional<AuctionState>& existing, const Caller& caller,
                        std::string_view auction, Micros closes_at, Amount reserve, Micros now);

}  // namespace coord
