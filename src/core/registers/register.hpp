// Compare-and-swap registers: a small JSON value per key with a version
// that counts the swaps. A swap happens only when the caller names the
// current version; every answer carries the current value and version, so a
// loser retries at once. The glue does the compare and the write in one
// UPDATE ... WHERE version = expected (the database's row lock makes it
// atomic); these rules say what the arguments may be, what a version
// comparison means, and who may use a key.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/roles.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace coord {

using RegisterVersion = std::int64_t;

// Documented limits (README, "Compare-and-swap registers").
inline constexpr std::size_t kMaxRegisterKeyBytes = 256;
inline constexpr std::size_t kMaxRegisterValueBytes = 8192;

// expected_version: non-NULL, 0 (the key was never written) or more, and
// not the largest bigint (a swap could not count it).
RegisterVersion require_expected_version(std::optional<std::int64_t> value);

// A new value's stored (jsonb) size: at most kMaxRegisterValueBytes.
void require_register_value_size(std::size_t bytes);

// A key's stored state, as far as the rules need it.
struct RegisterState {
    RegisterVersion version = 0;
    RoleId owner = 0;  // the role that first wrote it
};

// The version a key has: 0 when it was never written.
inline RegisterVersion version_of(const std::optional<RegisterState>& current) {
    return current ? current->version : 0;
}

// True when a swap expecting `expected` may happen on `current`.
inline bool cas_matches(const std::optional<RegisterState>& current, RegisterVersion expected) {
    return version_of(current) == expected;
}

// Throws Error(insufficient_privilege) unless `caller` may read and swap a
// key first written by `owner` (that role, or coord_admin).
void require_register_access(const Caller& caller, RoleId owner, std::string_view key);

}  // namespace coord
