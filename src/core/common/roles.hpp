// Holdings belong to roles. A holding (a lease, a task claim) belongs to the
// role that took it as well as to its owner string; a ledger entry and a
// task's payload belong to the role that posted or enqueued them. Owner
// strings and tokens identify a holding, they are not credentials: these
// rules decide who may act on a holding and who may read what another role
// wrote (README, "Roles and privileges").
#pragma once
#include "core/common/cpp_only.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coord {

// A PostgreSQL role OID.
using RoleId = std::uint32_t;

// The role a coord.* call runs for: the role current when it was called.
// The glue implements it; its answers may cost a catalog look-up, so the
// rules below ask for them only when another role is involved.
class Caller {
public:
    virtual ~Caller() = default;
    virtual RoleId role() const = 0;
    // Has the privileges of coord_admin (a superuser has every role's).
    virtual bool is_admin() const = 0;
    // Has the privileges of `role`: is that role or inherits from it.
    virtual bool has_privileges_of(RoleId role) const = 0;
    // The role's name, or nullopt for a role that no longer exists.
    virtual std::optional<std::string> role_name(RoleId role) const = 0;
};

// Acting on a holding or a record (renew, release, fence with, re-acquire,
// heartbeat, complete, fail, settle) needs exactly its role, or coord_admin.
bool may_act_on(const Caller& caller, RoleId holder);

// Reading what a role wrote (a task's payload, a ledger entry) needs that
// role's privileges (the role or a member that inherits them), or coord_admin.
bool may_read(const Caller& caller, RoleId writer);

// What a refusal names: `subject` as "lease \"billing\"" or "ledger entry 7",
// `belongs` how it is tied to its role ("is held by", "was posted by").
struct RoleBound {
    std::string_view subject;
    std::string_view belongs;
    RoleId role;
};

// Throw 42501 (insufficient_privilege), saying which role the subject
// belongs to and which one the call runs as, unless may_act_on / may_read.
void require_may_act(const Caller& caller, std::string_view action, const RoleBound& bound);
void require_may_read(const Caller& caller, const RoleBound& bound);

// 'role "alice"', or 'a dropped role (OID 16384)'.
std::string describe_role(const Caller& caller, RoleId role);

}  // namespace coord
