// The project's one exception type. It carries a SQLSTATE so that the glue's
// error boundary can turn it into ereport(ERROR) with the right code.
#pragma once
#include "core/common/cpp_only.hpp"

#include <stdexcept>
#include <string>

namespace coord {

// Five-character SQLSTATE codes (see README, "Errors"). The project's own
// codes are class PC: implementation-defined (first character I-Z), unused by
// PostgreSQL, outside the classes the SQL standard reserves (0-4, A-H).
namespace sqlstate {
inline constexpr const char* null_value_not_allowed = "22004";
inline constexpr const char* invalid_parameter_value = "22023";
inline constexpr const char* lease_lost = "PC001";
inline constexpr const char* idempotency_conflict = "PC002";
inline constexpr const char* invalid_transition = "PC003";
inline constexpr const char* stale_route = "PC004";
inline constexpr const char* deadlock_detected = "40P01";
inline constexpr const char* insufficient_privilege = "42501";
inline constexpr const char* feature_not_supported = "0A000";
inline constexpr const char* object_not_in_prerequisite_state = "55000";
inline constexpr const char* object_in_use = "55006";
inline constexpr const char* insufficient_resources = "53000";
inline constexpr const char* configuration_limit_exceeded = "53400";
inline constexpr const char* program_limit_exceeded = "54000";
inline constexpr const char* undefined_object = "42704";
inline constexpr const char* duplicate_object = "42710";
inline constexpr const char* serialization_failure = "40001";
inline constexpr const char* internal_error = "XX000";
}  // namespace sqlstate

class Error : public std::runtime_error {
public:
    Error(const char* code, std::string message, std::string detail = {}, std::string hint = {})
        : std::runtime_error(std::move(message)), code_(code), detail_(std::move(detail)),
          hint_(std::move(hint)) {}

    const char* sqlstate() const noexcept { return code_; }
    const std::string& detail() const noexcept { return detail_; }
    const std::string& hint() const noexcept { return hint_; }

private:
    const char* code_;
    std::string detail_;
    std::string hint_;
};

}  // namespace coord
