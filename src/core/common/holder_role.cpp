#include "core/common/holder_role.hpp"

#include "core/common/error.hpp"

#include <fmt/format.h>

namespace coord {

void require_may_act_for(const Caller& caller, RoleId holder_role, std::string_view what,
                         std::string_view action) {
    if (may_act_for(caller, holder_role)) return;
    throw Error(sqlstate::insufficient_privilege,
                fmt::format("permission denied to {} {}", action, what),
                "It belongs to another database role; only that role (or coord_admin) may act on it.",
                "Call it as the role that took it (SET ROLE), or as a member of coord_admin.");
}

}  // namespace coord
