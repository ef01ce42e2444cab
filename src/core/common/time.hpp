// Time in the core is a plain count of microseconds, passed in by the caller
// (the server's clock_timestamp()); the core never reads a clock.
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstdint>
#include <limits>

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

// The interval's length in microseconds, computed exactly and saturated at
// the limits of Micros. Each field of a PostgreSQL interval can be as large
// as about 178 million years, so months * 30 days alone can exceed 64 bits:
// wrapped arithmetic would make such an interval any length at all (even
// "1 hour"), while a saturated one stays larger (or smaller) than every
// limit the API sets.
constexpr Micros to_micros_saturated(const IntervalParts& i) {
    __extension__ using Exact = __int128;  // months * 30 days in microseconds needs 73 bits
    Exact exact = Exact{i.micros} + Exact{i.days} * kMicrosPerDay + Exact{i.months} * 30 * kMicrosPerDay;
    constexpr Exact most = std::numeric_limits<Micros>::max();
    constexpr Exact least = std::numeric_limits<Micros>::min();
    return exact > most ? std::numeric_limits<Micros>::max()
           : exact < least ? std::numeric_limits<Micros>::min()
                           : static_cast<Micros>(exact);
}

}  // namespace coord
