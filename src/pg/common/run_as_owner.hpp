// What SECURITY DEFINER ... SET search_path = pg_catalog, pg_temp does for a
// whole function, for the part of an invoker-rights function that runs SQL.
// An invoker-rights function that reads and writes its tables directly
// (no SQL, no name resolved through search_path) needs neither, and is spared
// their cost on every call: setting search_path and restoring it makes the
// session rebuild its namespace search path and revalidate cached plans.
#pragma once

#include "pg/common/guard.hpp"

namespace coord::pg {

struct OwnerScope {
    Oid saved_user;
    int saved_security_context;
    int guc_nest_level;
};

// Become `owner` with search_path pinned; inside pg_call.
OwnerScope enter_owner_scope(Oid owner);
// Back to the caller's user and search_path; inside pg_call.
void leave_owner_scope(const OwnerScope& scope);

// Runs f (C++ code; SPI through Spi/Statement) as `owner` with search_path
// pinned. If f throws, the error aborts the (sub)transaction, which restores
// the user and search_path, as it does for a SECURITY DEFINER function.
template <typename F>
auto run_as_owner(Oid owner, F&& f) -> decltype(f()) {
    OwnerScope scope = pg_call([&] { return enter_owner_scope(owner); });
    if constexpr (std::is_void_v<decltype(f())>) {
        f();
        pg_call([&] { leave_owner_scope(scope); });
    } else {
        auto result = f();
        pg_call([&] { leave_owner_scope(scope); });
        return result;
    }
}

}  // namespace coord::pg
