#include "core/ledger/ledger.hpp"

#include "core/common/error.hpp"
#include "core/common/validate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace coord {

namespace {

[[noreturn]] void bad_value(std::string message, std::string detail = {}, std::string hint = {}) {
    throw Error(sqlstate::invalid_parameter_value, std::move(message), std::move(detail),
                std::move(hint));
}

struct MinorUnits {
    const char* code;
    int digits;
};

// ISO 4217 currencies whose minor unit is not 2 (list of 2024).
constexpr std::array<MinorUnits, 26> kMinorUnits{{
    {"BHD", 3}, {"BIF", 0}, {"CLF", 4}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"IQD", 3},
    {"ISK", 0}, {"JOD", 3}, {"JPY", 0}, {"KMF", 0}, {"KRW", 0}, {"KWD", 3}, {"LYD", 3},
    {"OMR", 3}, {"PYG", 0}, {"RWF", 0}, {"TND", 3}, {"UGX", 0}, {"UYI", 0}, {"UYW", 4},
    {"VND", 0}, {"VUV", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

int currency_minor_units(std::string_view currency) {
    for (const auto& entry : kMinorUnits)
        if (currency == entry.code) return entry.digits;
    return 2;
}

std::string_view require_currency(std::optional<std::string_view> currency) {
    std::string_view code = require_present(currency, "currency");
    bool ok = code.size() == 3 &&
              std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!ok)
        bad_value(fmt::format("currency must be a 3-letter upper-case code, not \"{}\"", code),
                  {}, "Use an ISO 4217 code such as USD, EUR or JPY.");
    return code;
}

std::string normalize_amount(std::optional<std::string_view> amount, std::string_view currency) {
    std::string_view text = require_present(amount, "amount");
    if (text == "NaN" || text == "Infinity" || text == "-Infinity" || text == "+Infinity")
        bad_value(fmt::format("amount must be finite, not {}", text));
    std::string_view rest = text;
    bool negative = false;
    if (!rest.empty() && (rest.front() == '-' || rest.front() == '+')) {
        negative = rest.front() == '-';
        rest.remove_prefix(1);
    }
    std::size_t point = rest.find('.');
    std::string_view integer = rest.substr(0, point);
    std::string_view fraction =
        point == std::string_view::npos ? std::string_view() : rest.substr(point + 1);
    bool well_formed = (!integer.empty() || !fraction.empty()) &&
                       std::all_of(integer.begin(), integer.end(), is_digit) &&
                       std::all_of(fraction.begin(), fraction.end(), is_digit);
    if (!well_formed) bad_value(fmt::format("amount \"{}\" is not a decimal number", text));

    while (!integer.empty() && integer.front() == '0') integer.remove_prefix(1);
    while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
    if (integer.empty() && fraction.empty()) bad_value("amount must not be zero");
    if (integer.size() > static_cast<std::size_t>(kMaxAmountIntegerDigits))
        bad_value(fmt::format("amount {} is too large (at most {} digits before the decimal point)",
                              text, kMaxAmountIntegerDigits));
    int scale = currency_minor_units(currency);
    if (fraction.size() > static_cast<std::size_t>(scale))
        bad_value(fmt::format("amount {} has more decimal places than {} allows ({})", text,
                              currency, scale),
                  {}, "Amounts are in the currency's major unit with at most its ISO 4217 minor "
                      "unit of decimal places (2 unless the currency has 0, 3 or 4).");

    std::string out;
    if (negative) out += '-';
    out += integer.empty() ? std::string_view("0") : integer;
    if (scale > 0) {
        out += '.';
        out += fraction;
        out.append(static_cast<std::size_t>(scale) - fraction.size(), '0');
    }
    return out;
}

std::string default_idempotency_key(std::string_view cycle_id, std::string_view account) {
    return fmt::format("{}:{}:{}", cycle_id.size(), cycle_id, account);
}

std::optional<Fence> optional_fence(std::optional<std::string_view> name,
                                    std::optional<std::int64_t> token) {
    if (!name && !token) return std::nullopt;
    if (!token)
        throw Error(sqlstate::null_value_not_allowed,
                    "fence_token must not be NULL when fence_name is given", {},
                    "Pass both fence_name and fence_token for a fenced call, or neither.");
    if (!name)
        throw Error(sqlstate::null_value_not_allowed,
                    "fence_name must not be NULL when fence_token is given", {},
                    "Pass both fence_name and fence_token for a fenced call, or neither.");
    return Fence{require_text(name, "fence_name", kMaxNameBytes), *token};
}

PostRequest make_post_request(std::optional<std::string_view> cycle_id,
                              std::optional<std::string_view> account,
                              std::optional<std::string_view> amount,
                              std::optional<std::string_view> currency,
                              std::optional<std::string_view> idempotency_key) {
    PostRequest r;
    r.cycle_id = require_text(cycle_id, "cycle_id", kMaxCycleIdBytes);
    r.account = require_text(account, "account", kMaxAccountBytes);
    r.currency = require_currency(currency);
    r.amount = normalize_amount(amount, r.currency);
    r.idempotency_key =
        idempotency_key
            ? std::string(require_text(idempotency_key, "idempotency_key", kMaxIdempotencyKeyBytes))
            : default_idempotency_key(r.cycle_id, r.account);
    return r;
}

namespace {

// The value of a decimal text without its trailing fractional zeros, so that
// "12.50" and "12.5" compare equal.
std::string_view canonical_decimal(std::string_view text) {
    if (text.find('.') == std::string_view::npos) return text;
    while (!text.empty() && text.back() == '0') text.remove_suffix(1);
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    return text;
}

std::string describe(std::string_view cycle_id, std::string_view account, std::string_view amount,
                     std::string_view currency) {
    return fmt::format("cycle_id \"{}\", account \"{}\", {} {}", cycle_id, account, amount,
                       currency);
}

std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) out += i + 1 == names.size() ? " and " : ", ";
        out += names[i];
    }
    return out;
}

}  // namespace

std::vector<std::string> post_differences(const StoredEntry& stored, const PostRequest& request) {
    std::vector<std::string> differs;
    if (stored.cycle_id != request.cycle_id) differs.emplace_back("cycle_id");
    if (stored.account != request.account) differs.emplace_back("account");
    if (canonical_decimal(stored.amount) != canonical_decimal(request.amount))
        differs.emplace_back("amount");
    if (stored.currency != request.currency) differs.emplace_back("currency");
    return differs;
}

void check_replay(const StoredEntry& stored, const PostRequest& request, const Caller& caller) {
    if (stored.posted_by != caller.role()) {
        std::string subject = fmt::format("ledger entry {} (idempotency_key \"{}\")",
                                          stored.entry_id, request.idempotency_key);
        require_may_read(caller, RoleBound{subject, "was posted by", stored.posted_by});
    }
    std::vector<std::string> differs = post_differences(stored, request);
    if (differs.empty()) return;
    throw Error(sqlstate::idempotency_conflict,
                fmt::format("idempotency_key \"{}\" was already used with a different {}",
                            request.idempotency_key, join_names(differs)),
                fmt::format("Entry {} has {}; this post has {}.", stored.entry_id,
                            describe(stored.cycle_id, stored.account, stored.amount,
                                     stored.currency),
                            describe(request.cycle_id, request.account, request.amount,
                                     request.currency)),
                "A different charge needs its own idempotency key.");
}

const char* to_string(EntryStatus status) {
    switch (status) {
        case EntryStatus::pending: return "pending";
        case EntryStatus::settled: return "settled";
        case EntryStatus::failed: return "failed";
    }
    return "unknown";
}

EntryStatus parse_stored_status(std::string_view status) {
    if (status == "pending") return EntryStatus::pending;
    if (status == "settled") return EntryStatus::settled;
    if (status == "failed") return EntryStatus::failed;
    throw Error(sqlstate::internal_error, fmt::format("unknown ledger entry status \"{}\"", status));
}

EntryStatus require_settle_status(std::optional<std::string_view> status) {
    std::string_view s = require_present(status, "status");
    if (s == "settled") return EntryStatus::settled;
    if (s == "failed") return EntryStatus::failed;
    if (s == "pending")
        bad_value("status must be 'settled' or 'failed', not 'pending'",
                  "A ledger entry never returns to pending.");
    bad_value(fmt::format("status must be 'settled' or 'failed', not \"{}\"", s));
}

namespace {

std::string describe_settle(EntryStatus status, const std::optional<std::string>& ref) {
    return ref ? fmt::format("{} (external_ref \"{}\")", to_string(status), *ref)
               : fmt::format("{} (no external_ref)", to_string(status));
}

}  // namespace

bool decide_settle(std::int64_t entry_id, const SettleState& current, EntryStatus status,
                   std::optional<std::string_view> external_ref, const Caller& caller) {
    if (current.posted_by != caller.role()) {
        std::string subject = fmt::format("ledger entry {}", entry_id);
        require_may_act(caller, "settle", RoleBound{subject, "was posted by", current.posted_by});
    }
    if (status == EntryStatus::pending)
        throw Error(sqlstate::invalid_transition, "a ledger entry never returns to pending");
    if (current.status == EntryStatus::pending) return true;
    std::optional<std::string> requested =
        external_ref ? std::optional<std::string>(std::string(*external_ref)) : std::nullopt;
    if (current.status == status && current.external_ref == requested) return false;
    throw Error(sqlstate::idempotency_conflict,
                fmt::format("ledger entry {} is already {}", entry_id, to_string(current.status)),
                fmt::format("Stored: {}; this call: {}.",
                            describe_settle(current.status, current.external_ref),
                            describe_settle(status, requested)),
                "A settled or failed entry is final; post a new entry for a new charge.");
}

}  // namespace coord
