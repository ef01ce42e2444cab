// Who calls an invoker-rights function, and whose rights its SQL runs with.
// Take the caller at entry, before run_as_owner changes the current user.
#pragma once

#include "core/common/holder_role.hpp"
#include "pg/common/guard.hpp"

namespace coord::pg {

// GetUserId() and whether that role has coord_admin's privileges (superusers
// have). Call at the function's entry.
Caller current_caller();

// The owner of the SQL function being called (the extension's owner): the
// role its SQL runs as (run_as_owner), as SECURITY DEFINER would.
Oid function_owner(FunctionCallInfo fcinfo);

}  // namespace coord::pg
