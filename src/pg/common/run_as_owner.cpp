#include "pg/common/run_as_owner.hpp"

namespace coord::pg {

// As fmgr_security_definer (fmgr.c) does for a function with SECURITY
// DEFINER and SET search_path.
OwnerScope enter_owner_scope(Oid owner) {
    OwnerScope scope{};
    GetUserIdAndSecContext(&scope.saved_user, &scope.saved_security_context);
    scope.guc_nest_level = NewGUCNestLevel();
    SetUserIdAndSecContext(owner, scope.saved_security_context | SECURITY_LOCAL_USERID_CHANGE);
    set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                      GUC_ACTION_SAVE, true, 0, false);
    return scope;
}

void leave_owner_scope(const OwnerScope& scope) {
    AtEOXact_GUC(true, scope.guc_nest_level);
    SetUserIdAndSecContext(scope.saved_user, scope.saved_security_context);
}

}  // namespace coord::pg
