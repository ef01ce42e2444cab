#include "pg/common/run_as_owner.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "utils/inval.h"
#include "utils/syscache.h"
}

#include <cstring>

namespace coord::pg {

namespace {

constexpr char kPinnedSearchPath[] = "pg_catalog, pg_temp";

Oid cached_owner = InvalidOid;
bool invalidation_registered = false;

void forget_owner(Datum, int, uint32) { cached_owner = InvalidOid; }

}  // namespace

Oid extension_owner() {
    if (!invalidation_registered) {
        CacheRegisterSyscacheCallback(NAMESPACEOID, forget_owner, Datum(0));
        invalidation_registered = true;
    }
    if (!OidIsValid(cached_owner)) {
        Oid schema = get_namespace_oid("coord", /*missing_ok=*/true);
        if (!OidIsValid(schema)) return InvalidOid;  // not installed here (the worker checks)
        HeapTuple tuple = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(schema));
        if (!HeapTupleIsValid(tuple)) elog(ERROR, "pg_coord: cache lookup failed for schema coord");
        cached_owner = reinterpret_cast<Form_pg_namespace>(GETSTRUCT(tuple))->nspowner;
        ReleaseSysCache(tuple);
    }
    return cached_owner;
}

// As fmgr_security_definer (fmgr.c) does for a function with SECURITY
// DEFINER and SET search_path.
OwnerScope enter_owner_scope(Oid owner) {
    OwnerScope scope{};
    GetUserIdAndSecContext(&scope.saved_user, &scope.saved_security_context);
    scope.guc_nest_level = NewGUCNestLevel();
    SetUserIdAndSecContext(owner, scope.saved_security_context | SECURITY_LOCAL_USERID_CHANGE);
    set_config_option("search_path", kPinnedSearchPath, PGC_USERSET, PGC_S_SESSION,
                      GUC_ACTION_SAVE, true, 0, false);
    return scope;
}

void leave_owner_scope(const OwnerScope& scope) {
    AtEOXact_GUC(true, scope.guc_nest_level);
    SetUserIdAndSecContext(scope.saved_user, scope.saved_security_context);
}

OwnerSql::OwnerSql() {
    OwnerScope* out = &scope_;
    entered_ = pg_call([&] {
        // Without the extension (the background worker asking whether it is
        // installed) the statement keeps the user, but not its search_path.
        Oid owner = extension_owner();
        if (!OidIsValid(owner)) owner = GetUserId();
        if (GetUserId() == owner && strcmp(namespace_search_path, kPinnedSearchPath) == 0)
            return false;
        *out = enter_owner_scope(owner);
        return true;
    });
}

void OwnerSql::leave() {
    if (!entered_) return;
    entered_ = false;
    pg_call([&] { leave_owner_scope(scope_); });
}

OwnerSql::~OwnerSql() {
    if (!entered_) return;
    try {
        leave();
    } catch (...) {
        // Only while an exception unwinds: the (sub)transaction's abort
        // restores the user and search_path as well.
    }
}

}  // namespace coord::pg
