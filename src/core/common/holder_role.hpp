// Which database role may act on a holding (a leader's term, a register, an
// auction): the role that took it, or an administrator. Owner and bidder
// strings are identifiers, never credentials; the role is what is checked.
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstdint>
#include <string_view>

namespace coord {

// A PostgreSQL role as the core sees it (its OID).
using RoleId = std::uint32_t;

// The role calling a function, and whether it has coord_admin's privileges.
struct Caller {
    RoleId role = 0;
    bool admin = false;
};

inline bool may_act_for(const Caller& caller, RoleId holder_role) {
    return caller.admin || caller.role == holder_role;
}

// Throws Error(insufficient_privilege) unless may_act_for(caller, holder_role);
// `what` names the holding ("term 7 of election \"db\""), `action` the refused
// step ("resign").
void require_may_act_for(const Caller& caller, RoleId holder_role, std::string_view what,
                         std::string_view action);

}  // namespace coord
