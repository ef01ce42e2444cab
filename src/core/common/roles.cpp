#include "core/common/roles.hpp"

#include "core/common/error.hpp"

#include <fmt/format.h>

#include <cctype>

namespace coord {

bool may_act_on(const Caller& caller, RoleId holder) {
    return holder == caller.role() || caller.is_admin();
}

bool may_read(const Caller& caller, RoleId writer) {
    return writer == caller.role() || caller.has_privileges_of(writer) || caller.is_admin();
}

std::string describe_role(const Caller& caller, RoleId role) {
    std::optional<std::string> name = caller.role_name(role);
    if (!name) return fmt::format("a dropped role (OID {})", role);
    return fmt::format("role \"{}\"", *name);
}

namespace {

std::string sentence_start(std::string_view text) {
    std::string s(text);
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
}

std::string whose(const Caller& caller, const RoleBound& bound) {
    return fmt::format("{} {} {}; this call runs as {}.", sentence_start(bound.subject),
                       bound.belongs, describe_role(caller, bound.role),
                       describe_role(caller, caller.role()));
}

}  // namespace

void require_may_act(const Caller& caller, std::string_view action, const RoleBound& bound) {
    if (may_act_on(caller, bound.role)) return;
    throw Error(sqlstate::insufficient_privilege,
                fmt::format("permission denied to {} {}", action, bound.subject),
                whose(caller, bound),
                "Call it as that role, or as a member of coord_admin: owner strings and tokens "
                "identify a holding, they are not credentials.");
}

void require_may_read(const Caller& caller, const RoleBound& bound) {
    if (may_read(caller, bound.role)) return;
    throw Error(sqlstate::insufficient_privilege,
                fmt::format("permission denied to read {}", bound.subject), whose(caller, bound),
                "Reading it needs the privileges of the role it belongs to (that role, or a "
                "member that inherits from it) or of coord_admin.");
}

}  // namespace coord
