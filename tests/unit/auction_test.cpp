// Auction rules: amounts, bid acceptance and ties, closing, opening.
#include "core/registers/auction.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

using namespace coord;

namespace {

constexpr Micros kNow = 1'000'000'000;
constexpr RoleId kOpener = 100;

Amount dollars(const char* text) { return parse_amount(text, "amount"); }

AuctionState open_auction(std::optional<Amount> high = std::nullopt, Amount reserve = 0) {
    AuctionState s;
    s.opened_by = kOpener;
    s.closes_at = kNow + 1000;
    s.reserve = reserve;
    if (high) {
        s.high_bidder = "seed";
        s.high_amount = *high;
        s.bids = 1;
    }
    return s;
}

TEST(ParseAmount, ExactDecimals) {
    EXPECT_EQ(dollars("5.01"), 5'010'000);
    EXPECT_EQ(dollars("5.010000000"), 5'010'000);  // trailing zeros do not count
    EXPECT_EQ(dollars("12"), 12'000'000);
    EXPECT_EQ(dollars("0"), 0);
    EXPECT_EQ(dollars("-0.00"), 0);
    EXPECT_EQ(dollars("0.000001"), 1);
    EXPECT_EQ(dollars("000123.5"), 123'500'000);
    EXPECT_EQ(dollars("999999999999.999999"), 999'999'999'999'999'999);
}

TEST(ParseAmount, RefusesWhatItWouldHaveToRoundOrCannotHold) {
    for (const char* bad : {"NaN", "Infinity", "-Infinity", "-0.01", "-5", "0.0000001",
                            "1000000000000", "1e5", "", ".5", "5.0.1", "abc"}) {
        EXPECT_EQ(sqlstate_of([&] { parse_amount(bad, "amount"); }), "22023") << bad;
    }
    auto [code, message] = error_of([] { parse_amount("1.1234567", "amount"); });
    EXPECT_EQ(message, "amount has more than 6 decimal places");
}

TEST(ParseAmount, TheFractionMayBeEmpty) { EXPECT_EQ(dollars("5."), 5'000'000); }

TEST(FormatAmount, ShortestExactDecimal) {
    EXPECT_EQ(format_amount(5'010'000), "5.01");
    EXPECT_EQ(format_amount(12'000'000), "12");
    EXPECT_EQ(format_amount(1), "0.000001");
    EXPECT_EQ(format_amount(0), "0");
    EXPECT_EQ(format_amount(dollars("999999999999.999999")), "999999999999.999999");
}

TEST(DecideBid, OnlyAboveTheHighBidLeads) {
    auto s = open_auction(dollars("5.00"));
    EXPECT_EQ(decide_bid(s, "a", dollars("5.01"), kNow), BidOutcome::leads);
    EXPECT_EQ(decide_bid(s, "a", dollars("5.00"), kNow), BidOutcome::rejected);  // a tie: first stays
    EXPECT_EQ(decide_bid(s, "a", dollars("4.99"), kNow), BidOutcome::rejected);
}

TEST(DecideBid, ThePuzzle) {
    // High bid 5.00; A and B bid 5.01, C bids 5.02. Whoever commits first
    // between A and B leads, and the other is then decided against it.
    auto s = open_auction(dollars("5.00"));
    EXPECT_EQ(decide_bid(s, "a", dollars("5.01"), kNow), BidOutcome::leads);  // A commits first
    s.high_bidder = "A";
    s.high_amount = dollars("5.01");
    EXPECT_EQ(decide_bid(s, "a", dollars("5.01"), kNow), BidOutcome::rejected);  // B, decided again
    EXPECT_EQ(decide_bid(s, "a", dollars("5.02"), kNow), BidOutcome::leads);     // C
    s.high_bidder = "C";
    s.high_amount = dollars("5.02");
    EXPECT_EQ(decide_bid(s, "a", dollars("5.01"), kNow), BidOutcome::rejected);  // A or B after C
}

TEST(DecideBid, TheFirstBidMustBeAboveTheReserve) {
    auto s = open_auction(std::nullopt, dollars("10"));
    EXPECT_EQ(decide_bid(s, "a", dollars("10"), kNow), BidOutcome::rejected);
    EXPECT_EQ(decide_bid(s, "a", dollars("10.000001"), kNow), BidOutcome::leads);
    EXPECT_EQ(decide_bid(open_auction(), "a", dollars("0"), kNow), BidOutcome::rejected);
    EXPECT_EQ(decide_bid(open_auction(), "a", dollars("0.000001"), kNow), BidOutcome::leads);
}

TEST(DecideBid, AfterCloseIsAnInvalidTransition) {
    auto s = open_auction();
    EXPECT_EQ(decide_bid(s, "a", dollars("1"), s.closes_at - 1), BidOutcome::leads);
    auto [code, message] = error_of([&] { decide_bid(s, "a", dollars("1"), s.closes_at); });
    EXPECT_EQ(code, "PC003");
    EXPECT_EQ(message, "auction \"a\" is closed");
    s.closed_at = kNow - 5;
    EXPECT_EQ(sqlstate_of([&] { decide_bid(s, "a", dollars("1"), kNow); }), "PC003");
}

TEST(DecideClose, TheOpenerOrAnAdminBeforeClosesAtAnyoneAfter) {
    auto s = open_auction();
    EXPECT_EQ(decide_close(s, FakeCaller{kOpener}, "a", kNow), CloseOutcome::close);
    EXPECT_EQ(decide_close(s, FakeCaller{999, true}, "a", kNow), CloseOutcome::close);
    EXPECT_EQ(sqlstate_of([&] { decide_close(s, FakeCaller{200}, "a", kNow); }), "42501");
    EXPECT_EQ(decide_close(s, FakeCaller{200}, "a", s.closes_at), CloseOutcome::close);
}

TEST(DecideClose, IsIdempotent) {
    auto s = open_auction();
    s.closed_at = kNow;
    EXPECT_EQ(decide_close(s, FakeCaller{200}, "a", kNow), CloseOutcome::already_closed);
}

TEST(ClosedAtFor, NeverAfterClosesAt) {
    auto s = open_auction();
    EXPECT_EQ(closed_at_for(s, kNow), kNow);
    EXPECT_EQ(closed_at_for(s, s.closes_at + 50), s.closes_at);
}

TEST(DecideOpen, CreatesWithAFutureClose) {
    FakeCaller opener{kOpener};
    EXPECT_EQ(decide_open(std::nullopt, opener, "a", kNow + 1, 0, kNow), OpenOutcome::create);
    EXPECT_EQ(sqlstate_of([&] { decide_open(std::nullopt, opener, "a", kNow, 0, kNow); }), "22023");
}

TEST(DecideOpen, ARetryChangesNothingAnythingElseIsADuplicate) {
    auto s = open_auction();
    FakeCaller opener{kOpener};
    EXPECT_EQ(decide_open(s, opener, "a", s.closes_at, s.reserve, kNow), OpenOutcome::unchanged);
    EXPECT_EQ(decide_open(s, opener, "a", s.closes_at, s.reserve, s.closes_at + 1),
              OpenOutcome::unchanged);
    EXPECT_EQ(sqlstate_of([&] { decide_open(s, opener, "a", s.closes_at + 1, s.reserve, kNow); }),
              "42710");
    EXPECT_EQ(sqlstate_of([&] { decide_open(s, opener, "a", s.closes_at, 5, kNow); }), "42710");
    EXPECT_EQ(sqlstate_of([&] { decide_open(s, FakeCaller{200}, "a", s.closes_at, s.reserve, kNow); }),
              "42710");
}

}  // namespace
