#include "core/registers/auction.hpp"

#include "core/common/error.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace coord {

namespace {

[[noreturn]] void throw_bad_amount(const char* param, std::string message, std::string detail = {}) {
    throw Error(sqlstate::invalid_parameter_value, fmt::format("{} {}", param, message),
                std::move(detail),
                fmt::format("Amounts are 0 or more, below 10^{}, with at most {} decimal places.",
                            kMaxAmountIntegerDigits, kAmountDecimals));
}

bool all_digits(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

Amount parse_amount(std::string_view text, const char* param) {
    if (text == "NaN" || text == "Infinity" || text == "-Infinity")
        throw_bad_amount(param, "must be a finite number", fmt::format("It is {}.", text));
    if (!text.empty() && text.front() == '-') {
        // numeric prints -0 as 0, but a caller's own text might not.
        if (text.find_first_not_of("-0.") != std::string_view::npos)
            throw_bad_amount(param, "must not be negative");
        text.remove_prefix(1);
    }
    std::string_view whole = text, fraction;
    if (std::size_t dot = text.find('.'); dot != std::string_view::npos) {
        whole = text.substr(0, dot);
        fraction = text.substr(dot + 1);
    }
    if (whole.empty() || !all_digits(whole) || !all_digits(fraction))
        throw_bad_amount(param, "is not a decimal number", fmt::format("It is \"{}\".", text));
    whole.remove_prefix(std::min(whole.find_first_not_of('0'), whole.size()));
    while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
    if (whole.size() > static_cast<std::size_t>(kMaxAmountIntegerDigits))
        throw_bad_amount(param, fmt::format("must be less than 10^{}", kMaxAmountIntegerDigits));
    if (fraction.size() > static_cast<std::size_t>(kAmountDecimals))
        throw_bad_amount(param, fmt::format("has more than {} decimal places", kAmountDecimals),
                         "Amounts are never rounded.");
    Amount amount = 0;
    for (char c : whole) amount = amount * 10 + (c - '0');
    Amount millionths = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(kAmountDecimals); ++i)
        millionths = millionths * 10 + (i < fraction.size() ? fraction[i] - '0' : 0);
    return amount * kAmountUnit + millionths;
}

std::string format_amount(Amount amount) {
    std::string text = fmt::format("{}", amount / kAmountUnit);
    Amount millionths = amount % kAmountUnit;
    if (millionths == 0) return text;
    std::string fraction = fmt::format("{:06d}", millionths);
    while (fraction.back() == '0') fraction.pop_back();
    return text + "." + fraction;
}

BidOutcome decide_bid(const AuctionState& state, std::string_view auction, Amount amount,
                      Micros now) {
    if (state.closed_at_time(now))
        throw Error(sqlstate::invalid_transition, fmt::format("auction \"{}\" is closed", auction),
                    state.closed_at ? "It was closed by coord.auction_close."
                                    : "Its closes_at has passed (server clock).",
                    "Bids are accepted only before closes_at; see coord.auction_close for the winner.");
    if (amount <= state.reserve) return BidOutcome::rejected;
    if (state.high_bidder && amount <= state.high_amount) return BidOutcome::rejected;
    return BidOutcome::leads;
}

CloseOutcome decide_close(const AuctionState& state, const Caller& caller,
                          std::string_view auction, Micros now) {
    if (state.closed_at) return CloseOutcome::already_closed;
    if (now < state.closes_at)
        // Before closes_at only its opener may end the bidding.
        require_may_act(caller, "close",
                        RoleBound{fmt::format("auction \"{}\"", auction), "was opened by",
                                  state.opened_by});
    return CloseOutcome::close;
}

Micros closed_at_for(const AuctionState& state, Micros now) {
    return std::min(now, state.closes_at);
}

OpenOutcome decide_open(const std::optional<AuctionState>& existing, const Caller& caller,
                        std::string_view auction, Micros closes_at, Amount reserve, Micros now) {
    if (existing) {
        if (existing->opened_by == caller.role() && existing->closes_at == closes_at &&
            existing->reserve == reserve)
            return OpenOutcome::unchanged;
        throw Error(sqlstate::duplicate_object, fmt::format("auction \"{}\" already exists", auction),
                    "It was opened before with another closes_at, reserve or role.",
                    "Auction names are unique for good; choose another name.");
    }
    if (closes_at <= now)
        throw Error(sqlstate::invalid_parameter_value, "closes_at must be in the future",
                    "An auction takes bids until closes_at (server clock).");
    return OpenOutcome::create;
}

}  // namespace coord
