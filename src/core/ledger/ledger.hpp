// Ledger rules: what a valid post is, which idempotency key a post gets by
// default, what a replayed post or a repeated settle means. The glue reads
// and writes coord.ledger_entries; every decision is made here.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/roles.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coord {

// Documented limits (README, "Ledger").
inline constexpr std::size_t kMaxCycleIdBytes = 256;
inline constexpr std::size_t kMaxAccountBytes = 256;
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 1024;
inline constexpr std::size_t kMaxExternalRefBytes = 1024;
inline constexpr int kMaxAmountIntegerDigits = 15;

// Number of decimal places a currency's amounts may have: its ISO 4217 minor
// unit for the currencies with 0, 3 or 4 of them (JPY 0, KWD 3, CLF 4 ...),
// 2 for every other code. `currency` must already be valid.
int currency_minor_units(std::string_view currency);

// A 3-letter upper-case code (ISO 4217 form); 22004 for NULL, 22023 otherwise.
std::string_view require_currency(std::optional<std::string_view> currency);

// Validates a decimal amount as PostgreSQL's numeric_out prints it
// ("-12.50", "NaN", "Infinity") and returns it written with exactly the
// currency's number of decimal places ("12.5" USD -> "12.50").
// 22004 NULL; 22023 not finite, zero, more decimal places than the currency
// allows (trailing zeros do not count: 12.500 USD is 12.50), or more than
// kMaxAmountIntegerDigits digits before the point.
std::string normalize_amount(std::optional<std::string_view> amount, std::string_view currency);

// The key a post gets when none is given: "<bytes of cycle_id>:<cycle_id>:<account>".
// The length prefix makes it unambiguous: ("a:b", "c") -> "3:a:b:c" and
// ("a", "b:c") -> "1:a:b:c" differ.
std::string default_idempotency_key(std::string_view cycle_id, std::string_view account);

// The fence of a fenced call: both NULL -> unfenced (nullopt); both given ->
// the pair; exactly one NULL -> 22004 naming the missing one.
struct Fence {
    std::string_view name;
    std::int64_t token;
};
std::optional<Fence> optional_fence(std::optional<std::string_view> name,
                                    std::optional<std::int64_t> token);

// What a post asks for, validated and normalized.
struct PostRequest {
    std::string cycle_id;
    std::string account;
    std::string amount;    // normalize_amount's form
    std::string currency;
    std::string idempotency_key;
};

// Validates every argument of coord.ledger_post (nothing is written before).
PostRequest make_post_request(std::optional<std::string_view> cycle_id,
                              std::optional<std::string_view> account,
                              std::optional<std::string_view> amount,
                              std::optional<std::string_view> currency,
                              std::optional<std::string_view> idempotency_key);

// The stored entry a replayed key found.
struct StoredEntry {
    std::int64_t entry_id = 0;
    std::string cycle_id;
    std::string account;
    std::string amount;  // as stored (numeric_out of the stored value)
    std::string currency;
    RoleId posted_by = 0;
};

// Which fields of `request` differ from the entry stored under its key
// ("cycle_id", "account", "amount", "currency"); empty when it is the same post.
std::vector<std::string> post_differences(const StoredEntry& stored, const PostRequest& request);

// A replay of a stored key: returns normally when it is the same post (the
// caller then returns the stored entry with inserted = false); throws
// PC002 idempotency_conflict naming what differs otherwise. A replay reads
// the entry: 42501 first when `caller` may not read what its role posted.
void check_replay(const StoredEntry& stored, const PostRequest& request, const Caller& caller);

// Entry states: pending -> settled | failed, both final.
enum class EntryStatus { pending, settled, failed };
const char* to_string(EntryStatus status);
// For stored values; throws internal_error on anything else.
EntryStatus parse_stored_status(std::string_view status);
// The `status` argument of coord.ledger_settle: settled or failed only
// (22004 NULL; 22023 pending or anything else).
EntryStatus require_settle_status(std::optional<std::string_view> status);

struct SettleState {
    EntryStatus status = EntryStatus::pending;
    std::optional<std::string> external_ref;
    RoleId posted_by = 0;
};

// True when the entry must now move to `status` (it is pending); false when
// it already has exactly this status and external_ref (a repeated settle);
// PC002 when it was settled differently (other status or other reference).
// Settling another role's entry is 42501 (before anything else is said).
bool decide_settle(std::int64_t entry_id, const SettleState& current, EntryStatus status,
                   std::optional<std::string_view> external_ref, const Caller& caller);

}  // namespace coord
