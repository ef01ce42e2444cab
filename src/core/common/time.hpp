// Time in the core is a plain count of microseconds, passed in by the caller
// (the server's clock_timestamp()); the core never reads a clock.
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstdint>

namespace coord {

using Micros = std::int64_t;

inline constexpr Micros kMicrosPerSecond = 1'000'000;
inline constexpr Micros kMicrosPerMinute = 60 * kMicrosPerSecond;
inline constexpr Micros kMicrosPerHour = 60 * kMicrosPerMinute;
inline constexpr Micros kMicrosPerDay = 24 * kMicrosPerHour;

// A SQL interval, field by field. A month counts as 30 days and a day as
// 24 hours, as in PostgreSQL's EXTRACT(epoch FROM interval).
struct IntervalParts {
    std::int32_t months = 0;
    std::int32_t days = 0;
    std::int64_t micros = 0;
};

constexpr Micros to_micros(const IntervalParts& i) {
    return i.micros + static_cast<Micros>(i.days) * kMicrosPerDay +
           static_cast<Micros>(i.months) * 30 * kMicrosPerDay;
}

}  // namespace coord
