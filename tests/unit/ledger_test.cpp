// Ledger rules: amounts, currencies, default keys, replays and settles.
#include "core/common/error.hpp"
#include "core/ledger/ledger.hpp"

#include "error_of.hpp"
#include "fake_caller.hpp"

#include <gtest/gtest.h>

namespace {

using coord::EntryStatus;


std::string amount(std::string_view text, std::string_view currency = "USD") {
    return coord::normalize_amount(text, currency);
}

TEST(LedgerCurrency, MinorUnitsFromIso4217WithDefaultTwo) {
    EXPECT_EQ(coord::currency_minor_units("USD"), 2);
    EXPECT_EQ(coord::currency_minor_units("EUR"), 2);
    EXPECT_EQ(coord::currency_minor_units("XYZ"), 2);
    EXPECT_EQ(coord::currency_minor_units("JPY"), 0);
    EXPECT_EQ(coord::currency_minor_units("KRW"), 0);
    EXPECT_EQ(coord::currency_minor_units("KWD"), 3);
    EXPECT_EQ(coord::currency_minor_units("BHD"), 3);
    EXPECT_EQ(coord::currency_minor_units("CLF"), 4);
}

TEST(LedgerCurrency, ThreeUpperCaseLetters) {
    EXPECT_EQ(coord::require_currency(std::string_view("EUR")), "EUR");
    EXPECT_EQ(error_of([] { coord::require_currency(std::nullopt); }).first, "22004");
    for (std::string_view bad : {"usd", "US", "USDX", "", "U5D", "US ", "ÜSD"}) {
        auto e = error_of([&] { coord::require_currency(bad); });
        EXPECT_EQ(e.first, "22023") << bad;
        EXPECT_NE(e.second.find("currency"), std::string::npos) << bad;
    }
}

TEST(LedgerAmount, NormalizedToTheCurrencyScale) {
    EXPECT_EQ(amount("12.5"), "12.50");
    EXPECT_EQ(amount("12.500"), "12.50");  // trailing zeros are not decimal places
    EXPECT_EQ(amount("12"), "12.00");
    EXPECT_EQ(amount("0.01"), "0.01");
    EXPECT_EQ(amount(".5"), "0.50");
    EXPECT_EQ(amount("-3.1"), "-3.10");  // negative amounts (refunds) are allowed
    EXPECT_EQ(amount("007.10"), "7.10");
    EXPECT_EQ(amount("1000", "JPY"), "1000");
    EXPECT_EQ(amount("1000.000", "JPY"), "1000");
    EXPECT_EQ(amount("1.234", "KWD"), "1.234");
    EXPECT_EQ(amount("999999999999999.99"), "999999999999999.99");
}

TEST(LedgerAmount, RejectsNullNonFiniteZeroAndExtraDecimals) {
    EXPECT_EQ(error_of([] { coord::normalize_amount(std::nullopt, "USD"); }),
              (std::pair<std::string, std::string>{"22004", "amount must not be NULL"}));
    for (std::string_view bad : {"NaN", "Infinity", "-Infinity"})
        EXPECT_EQ(error_of([&] { amount(bad); }),
                  (std::pair<std::string, std::string>{"22023",
                                                       "amount must be finite, not " + std::string(bad)}));
    for (std::string_view zero : {"0", "0.00", "-0", "000.000"})
        EXPECT_EQ(error_of([&] { amount(zero); }).second, "amount must not be zero") << zero;
    EXPECT_EQ(error_of([] { amount("12.345"); }),
              (std::pair<std::string, std::string>{
                  "22023", "amount 12.345 has more decimal places than USD allows (2)"}));
    EXPECT_EQ(error_of([] { amount("1.5", "JPY"); }).second,
              "amount 1.5 has more decimal places than JPY allows (0)");
    EXPECT_EQ(error_of([] { amount("1.2345", "KWD"); }).first, "22023");
    EXPECT_EQ(error_of([] { amount("1000000000000000"); }).first, "22023");
    for (std::string_view junk : {"", "-", ".", "1e5", "1.2.3", "12a", " 1"})
        EXPECT_EQ(error_of([&] { amount(junk); }).first, "22023") << junk;
}

TEST(LedgerKey, DefaultKeyIsUnambiguous) {
    EXPECT_EQ(coord::default_idempotency_key("2026-11-28", "acct-1"), "10:2026-11-28:acct-1");
    EXPECT_NE(coord::default_idempotency_key("a:b", "c"), coord::default_idempotency_key("a", "b:c"));
    EXPECT_NE(coord::default_idempotency_key("1:a", "b"), coord::default_idempotency_key("1", "a:b"));
    EXPECT_NE(coord::default_idempotency_key("", "3:a:b"), coord::default_idempotency_key("3:a", "b"));
}

TEST(LedgerFence, BothOrNeither) {
    EXPECT_FALSE(coord::optional_fence(std::nullopt, std::nullopt));
    auto fence = coord::optional_fence(std::string_view("billing:daily"), std::int64_t{7});
    ASSERT_TRUE(fence);
    EXPECT_EQ(fence->name, "billing:daily");
    EXPECT_EQ(fence->token, 7);
    EXPECT_EQ(error_of([] { coord::optional_fence(std::string_view("x"), std::nullopt); }),
              (std::pair<std::string, std::string>{
                  "22004", "fence_token must not be NULL when fence_name is given"}));
    EXPECT_EQ(error_of([] { coord::optional_fence(std::nullopt, std::int64_t{1}); }),
              (std::pair<std::string, std::string>{
                  "22004", "fence_name must not be NULL when fence_token is given"}));
    EXPECT_EQ(error_of([] { coord::optional_fence(std::string_view(""), std::int64_t{1}); }).first,
              "22023");
}

TEST(LedgerPost, RequestValidatesEveryArgument) {
    auto r = coord::make_post_request(std::string_view("c1"), std::string_view("a1"),
                                      std::string_view("5"), std::string_view("EUR"), std::nullopt);
    EXPECT_EQ(r.amount, "5.00");
    EXPECT_EQ(r.idempotency_key, "2:c1:a1");
    auto keyed = coord::make_post_request(std::string_view("c1"), std::string_view("a1"),
                                          std::string_view("5"), std::string_view("EUR"),
                                          std::string_view("order-77"));
    EXPECT_EQ(keyed.idempotency_key, "order-77");
    auto post = [](std::optional<std::string_view> c, std::optional<std::string_view> a,
                   std::optional<std::string_view> m, std::optional<std::string_view> cur,
                   std::optional<std::string_view> k) {
        return error_of([&] { coord::make_post_request(c, a, m, cur, k); });
    };
    std::string_view c = "c", a = "a", m = "1", u = "USD";
    EXPECT_EQ(post(std::nullopt, a, m, u, std::nullopt).second, "cycle_id must not be NULL");
    EXPECT_EQ(post(std::string_view(""), a, m, u, std::nullopt).second, "cycle_id must not be empty");
    EXPECT_EQ(post(c, std::nullopt, m, u, std::nullopt).second, "account must not be NULL");
    EXPECT_EQ(post(c, a, std::nullopt, u, std::nullopt).second, "amount must not be NULL");
    EXPECT_EQ(post(c, a, m, std::nullopt, std::nullopt).second, "currency must not be NULL");
    EXPECT_EQ(post(c, a, m, u, std::string_view("")).second, "idempotency_key must not be empty");
    std::string long_key(coord::kMaxIdempotencyKeyBytes + 1, 'k');
    EXPECT_EQ(post(c, a, m, u, std::string_view(long_key)).first, "22023");
}

const FakeCaller app{kApp};

coord::StoredEntry stored() { return {17, "c1", "a1", "5.00", "EUR", kApp}; }

coord::PostRequest request(std::string cycle = "c1", std::string account = "a1",
                           std::string amount = "5.00", std::string currency = "EUR") {
    return {cycle, account, amount, currency, "k"};
}

TEST(LedgerReplay, SamePostIsAReplay) {
    EXPECT_TRUE(coord::post_differences(stored(), request()).empty());
    EXPECT_NO_THROW(coord::check_replay(stored(), request(), app));
    // The stored numeric may print with another scale.
    auto s = stored();
    s.amount = "5.0";
    EXPECT_NO_THROW(coord::check_replay(s, request(), app));
}

TEST(LedgerReplay, DifferentRequestIsAConflictNamingTheFields) {
    using V = std::vector<std::string>;
    EXPECT_EQ(coord::post_differences(stored(), request("c2")), V{"cycle_id"});
    EXPECT_EQ(coord::post_differences(stored(), request("c1", "a2")), V{"account"});
    EXPECT_EQ(coord::post_differences(stored(), request("c1", "a1", "5.01")), V{"amount"});
    EXPECT_EQ(coord::post_differences(stored(), request("c1", "a1", "5.00", "USD")), V{"currency"});
    EXPECT_EQ(coord::post_differences(stored(), request("c1", "a1", "6.00", "USD")),
              (V{"amount", "currency"}));
    auto e = error_of([] { coord::check_replay(stored(), request("c1", "a1", "6.00", "USD"), app); });
    EXPECT_EQ(e.first, "PC002");
    EXPECT_EQ(e.second, "idempotency_key \"k\" was already used with a different amount and currency");
    try {
        coord::check_replay(stored(), request("c9", "a9", "6.00", "USD"), app);
        FAIL();
    } catch (const coord::Error& err) {
        EXPECT_STREQ(err.what(), "idempotency_key \"k\" was already used with a different cycle_id, "
                                 "account, amount and currency");
        EXPECT_EQ(err.detail(), "Entry 17 has cycle_id \"c1\", account \"a1\", 5.00 EUR; this post "
                                "has cycle_id \"c9\", account \"a9\", 6.00 USD.");
    }
}

// An entry belongs to the role that posted it: another role replaying its
// key gets 42501 before anything about the entry is said (not its fields in
// a PC002 detail); a role with the poster's privileges, or coord_admin, may.
TEST(LedgerReplay, AnotherRolesEntryIsNotReadable) {
    FakeCaller other{kOther};
    auto e = error_of([&] { coord::check_replay(stored(), request(), other); });
    EXPECT_EQ(e, (std::pair<std::string, std::string>{
                     "42501", "permission denied to read ledger entry 17 (idempotency_key \"k\")"}));
    EXPECT_EQ(error_of([&] { coord::check_replay(stored(), request("c2"), other); }).first, "42501");
    try {
        coord::check_replay(stored(), request("c2"), other);
    } catch (const coord::Error& err) {
        EXPECT_EQ(err.detail(), "Ledger entry 17 (idempotency_key \"k\") was posted by role \"app\"; "
                                "this call runs as role \"other\".");
    }
    FakeCaller member{kOther};
    member.inherits.insert(kApp);
    EXPECT_NO_THROW(coord::check_replay(stored(), request(), member));
    FakeCaller ops{kOps, /*admin=*/true};
    EXPECT_NO_THROW(coord::check_replay(stored(), request(), ops));
    EXPECT_EQ(error_of([&] { coord::check_replay(stored(), request("c2"), ops); }).first, "PC002");
}

TEST(LedgerReplay, TheSameRoleAsksNothing) {
    FakeCaller me{kApp};
    coord::check_replay(stored(), request(), me);
    EXPECT_EQ(me.admin_asked + me.privileges_asked, 0);
}

TEST(LedgerSettle, AnotherRolesEntryIsRefusedEvenForMembers) {
    coord::SettleState pending{EntryStatus::pending, std::nullopt, kApp};
    FakeCaller member{kOther};
    member.inherits.insert(kApp);  // may read it, but acting needs the role itself
    auto e = error_of([&] { coord::decide_settle(5, pending, EntryStatus::settled, std::nullopt, member); });
    EXPECT_EQ(e, (std::pair<std::string, std::string>{"42501", "permission denied to settle ledger entry 5"}));
    // Refused before the PC002 that would describe the stored settle.
    coord::SettleState settled{EntryStatus::settled, std::string("ch_1"), kApp};
    EXPECT_EQ(error_of([&] { coord::decide_settle(5, settled, EntryStatus::failed, std::nullopt, member); }).first,
              "42501");
    FakeCaller ops{kOps, /*admin=*/true};
    EXPECT_TRUE(coord::decide_settle(5, pending, EntryStatus::settled, std::nullopt, ops));
}

TEST(LedgerStatus, SettleStatusArgument) {
    EXPECT_EQ(coord::require_settle_status(std::string_view("settled")), EntryStatus::settled);
    EXPECT_EQ(coord::require_settle_status(std::string_view("failed")), EntryStatus::failed);
    EXPECT_EQ(error_of([] { coord::require_settle_status(std::nullopt); }).first, "22004");
    EXPECT_EQ(error_of([] { coord::require_settle_status(std::string_view("pending")); }),
              (std::pair<std::string, std::string>{
                  "22023", "status must be 'settled' or 'failed', not 'pending'"}));
    EXPECT_EQ(error_of([] { coord::require_settle_status(std::string_view("Settled")); }).first,
              "22023");
    EXPECT_EQ(coord::parse_stored_status("failed"), EntryStatus::failed);
    EXPECT_EQ(error_of([] { coord::parse_stored_status("x"); }).first, "XX000");
}

TEST(LedgerSettle, PendingMovesOnce) {
    coord::SettleState pending{EntryStatus::pending, std::nullopt, kApp};
    EXPECT_TRUE(coord::decide_settle(1, pending, EntryStatus::settled, std::string_view("ch_1"), app));
    EXPECT_TRUE(coord::decide_settle(1, pending, EntryStatus::failed, std::nullopt, app));
}

TEST(LedgerSettle, SameSettleAgainIsANoOp) {
    coord::SettleState settled{EntryStatus::settled, std::string("ch_1"), kApp};
    EXPECT_FALSE(coord::decide_settle(1, settled, EntryStatus::settled, std::string_view("ch_1"), app));
    coord::SettleState failed{EntryStatus::failed, std::nullopt, kApp};
    EXPECT_FALSE(coord::decide_settle(1, failed, EntryStatus::failed, std::nullopt, app));
}

TEST(LedgerSettle, ConflictingSettleIsCO002) {
    coord::SettleState settled{EntryStatus::settled, std::string("ch_1"), kApp};
    auto other_status = error_of(
        [&] { coord::decide_settle(4, settled, EntryStatus::failed, std::string_view("ch_1"), app); });
    EXPECT_EQ(other_status, (std::pair<std::string, std::string>{"PC002",
                                                                  "ledger entry 4 is already settled"}));
    EXPECT_EQ(error_of([&] {
                  coord::decide_settle(4, settled, EntryStatus::settled, std::string_view("ch_2"), app);
              }).first,
              "PC002");
    EXPECT_EQ(error_of([&] { coord::decide_settle(4, settled, EntryStatus::settled, std::nullopt, app); })
                  .first,
              "PC002");
    coord::SettleState failed{EntryStatus::failed, std::nullopt, kApp};
    EXPECT_EQ(error_of([&] {
                  coord::decide_settle(4, failed, EntryStatus::settled, std::string_view("ch_3"), app);
              }).first,
              "PC002");
}

TEST(LedgerSettle, NeverBackToPending) {
    coord::SettleState settled{EntryStatus::settled, std::string("ch_1"), kApp};
    EXPECT_EQ(error_of([&] { coord::decide_settle(4, settled, EntryStatus::pending, std::nullopt, app); })
                  .first,
              "PC003");
    EXPECT_STREQ(coord::to_string(EntryStatus::pending), "pending");
}

}  // namespace
