// Argument rules shared by every SQL function: NULLs, empty strings, length
// limits and duration bounds. Each failure names the parameter and carries
// 22004 (NULL) or 22023 (bad value), before anything is changed.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/time.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coord {

// Documented limits (README, "Limits").
inline constexpr std::size_t kMaxNameBytes = 256;
inline constexpr std::size_t kMaxOwnerBytes = 256;
inline constexpr Micros kMaxLeaseTtl = 30 * kMicrosPerDay;

// Non-NULL, non-empty, at most max_bytes bytes.
std::string_view require_text(std::optional<std::string_view> value, const char* param,
                              std::size_t max_bytes);

// Non-NULL.
template <typename T>
T require_present(std::optional<T> value, const char* param);

// An interval argument, non-NULL, strictly positive, at most max; returned
// in microseconds. Its length is computed exactly (to_micros_saturated): an
// interval whose fields add up beyond 64 bits is too long, never wrapped.
Micros require_duration(std::optional<IntervalParts> value, const char* param, Micros max);

// The same, zero allowed.
Micros require_non_negative_duration(std::optional<IntervalParts> value, const char* param,
                                     Micros max);

// Formats a duration for messages: "30 days", "1 hour", "250 ms".
std::string describe_duration(Micros value);

[[noreturn]] void throw_null_argument(const char* param);

template <typename T>
T require_present(std::optional<T> value, const char* param) {
    if (!value) throw_null_argument(param);
    return *value;
}

}  // namespace coord
