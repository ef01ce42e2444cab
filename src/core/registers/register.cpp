#include "core/registers/register.hpp"

#include "core/common/error.hpp"
#include "core/common/validate.hpp"

#include <fmt/format.h>

#include <limits>

namespace coord {

RegisterVersion require_expected_version(std::optional<std::int64_t> value) {
    std::int64_t v = require_present(value, "expected_version");
    if (v < 0)
        throw Error(sqlstate::invalid_parameter_value, "expected_version must not be negative",
                    "Versions start at 0 (a key never written) and count the swaps.");
    if (v == std::numeric_limits<std::int64_t>::max())
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("expected_version must be less than {}", v),
                    "A swap adds 1 to the version; the largest bigint has no successor.");
    return v;
}

void require_register_value_size(std::size_t bytes) {
    if (bytes <= kMaxRegisterValueBytes) return;
    throw Error(sqlstate::invalid_parameter_value,
                fmt::format("new_value is too large ({} bytes as jsonb, at most {})", bytes,
                            kMaxRegisterValueBytes),
                "A register holds a small piece of state; keep large documents in a table and "
                "put their id or version in the register.");
}

void require_register_access(const Caller& caller, RoleId owner, std::string_view key) {
    require_may_act(caller, "use",
                    RoleBound{fmt::format("register \"{}\"", key), "was first written by", owner});
}

}  // namespace coord
