#include "core/common/validate.hpp"

#include "core/common/error.hpp"

#include <fmt/format.h>

namespace coord {

void throw_null_argument(const char* param) {
    throw Error(sqlstate::null_value_not_allowed, fmt::format("{} must not be NULL", param));
}

std::string_view require_text(std::optional<std::string_view> value, const char* param,
                              std::size_t max_bytes) {
    if (!value) throw_null_argument(param);
    if (value->empty())
        throw Error(sqlstate::invalid_parameter_value, fmt::format("{} must not be empty", param));
    if (value->size() > max_bytes)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} is too long ({} bytes, at most {})", param, value->size(),
                                max_bytes));
    return *value;
}

std::string describe_duration(Micros value) {
    struct Unit {
        Micros size;
        const char* name;
    };
    static constexpr Unit units[] = {{kMicrosPerDay, "day"},
                                     {kMicrosPerHour, "hour"},
                                     {kMicrosPerMinute, "minute"},
                                     {kMicrosPerSecond, "second"}};
    for (const auto& unit : units)
        if (value != 0 && value % unit.size == 0) {
            Micros n = value / unit.size;
            return fmt::format("{} {}{}", n, unit.name, n == 1 ? "" : "s");
        }
    return fmt::format("{} microseconds", value);
}

Micros require_duration(std::optional<IntervalParts> value, const char* param, Micros max) {
    Micros v = to_micros_saturated(require_present(value, param));
    if (v <= 0)
        throw Error(sqlstate::invalid_parameter_value, fmt::format("{} must be positive", param));
    if (v > max)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} must be at most {}", param, describe_duration(max)));
    return v;
}

Micros require_non_negative_duration(std::optional<IntervalParts> value, const char* param,
                                     Micros max) {
    Micros v = to_micros_saturated(require_present(value, param));
    if (v < 0)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} must not be negative", param));
    if (v > max)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("{} must be at most {}", param, describe_duration(max)));
    return v;
}

}  // namespace coord
