#include "pg/common/caller.hpp"

#include "core/common/error.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "utils/acl.h"
#include "utils/syscache.h"
}

namespace coord::pg {

Caller current_caller() {
    return pg_call([] {
        Oid role = GetUserId();
        Oid admin = get_role_oid("coord_admin", /*missing_ok=*/true);
        return Caller{role, OidIsValid(admin) && has_privs_of_role(role, admin)};
    });
}

Oid function_owner(FunctionCallInfo fcinfo) {
    Oid owner = pg_call([&] {
        HeapTuple proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
        if (!HeapTupleIsValid(proc)) return InvalidOid;
        Oid result = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc))->proowner;
        ReleaseSysCache(proc);
        return result;
    });
    if (!OidIsValid(owner))
        throw Error(sqlstate::internal_error, "pg_coord could not find the called function's owner");
    return owner;
}

}  // namespace coord::pg
