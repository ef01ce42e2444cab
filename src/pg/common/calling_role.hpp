// The role a coord.* call acts for (core/common/roles.hpp): the current user
// when the function was entered. The functions that act on holdings have
// invoker rights, so this is the caller's role, not the extension owner's;
// their SQL runs as the owner only inside Spi::run (spi.hpp). Whether the
// caller has coord_admin's privileges is asked at most once per call, and
// only when a holding or a record is another role's.
#pragma once

#include "core/common/roles.hpp"
#include "pg/common/guard.hpp"

namespace coord::pg {

class CallingRole final : public Caller {
public:
    CallingRole();

    RoleId role() const override { return role_; }
    bool is_admin() const override;
    bool has_privileges_of(RoleId role) const override;
    std::optional<std::string> role_name(RoleId role) const override;

private:
    Oid role_;
    mutable std::optional<bool> admin_;
};

}  // namespace coord::pg
