#include "pg/common/calling_role.hpp"

extern "C" {
#include "utils/acl.h"
}

namespace coord::pg {

CallingRole::CallingRole() : role_(GetUserId()) {}

bool CallingRole::is_admin() const {
    if (!admin_) {
        Oid role = role_;
        admin_ = pg_call([&] {
            Oid admin = get_role_oid("coord_admin", /*missing_ok=*/true);
            return OidIsValid(admin) && has_privs_of_role(role, admin);
        });
    }
    return *admin_;
}

bool CallingRole::has_privileges_of(RoleId role) const {
    Oid me = role_;
    return pg_call([&] { return has_privs_of_role(me, static_cast<Oid>(role)); });
}

std::optional<std::string> CallingRole::role_name(RoleId role) const {
    const char* name = pg_call([&] { return GetUserNameFromId(static_cast<Oid>(role), /*noerr=*/true); });
    if (name == nullptr) return std::nullopt;
    return std::string(name);
}

}  // namespace coord::pg
