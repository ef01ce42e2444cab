// What SECURITY DEFINER ... SET search_path = pg_catalog, pg_temp does for a
// whole function, for the SQL statements of an invoker-rights function.
//
// The coord.* functions that act on holdings have invoker rights: they must
// know the caller's role (GetUserId() at entry; calling_role.hpp), and their
// direct reads and writes of the extension's tables need no privilege. Only
// the SQL they still run must run as the extension's owner and must not
// resolve names through the caller's search_path; Spi::run (spi.hpp) wraps
// every statement in an OwnerSql, so every SQL path is covered by this one
// mechanism, and a call that runs no SQL pays nothing for it (setting and
// restoring search_path makes the session rebuild its namespace search path
// and revalidate cached plans).
#pragma once

#include "pg/common/guard.hpp"

namespace coord::pg {

// The extension's owner: the owner of schema coord, which CREATE EXTENSION
// made (and so the owner of its tables). Cached per backend, forgotten when
// pg_namespace changes; InvalidOid where the extension is not installed.
// Inside pg_call.
Oid extension_owner();

struct OwnerScope {
    Oid saved_user;
    int saved_security_context;
    int guc_nest_level;
};

// Become `owner` with search_path pinned; inside pg_call.
OwnerScope enter_owner_scope(Oid owner);
// Back to the caller's user and search_path; inside pg_call.
void leave_owner_scope(const OwnerScope& scope);

// Until leave(), SQL runs as the extension owner with search_path pinned,
// unless that was already so (inside a SECURITY DEFINER function). If an
// exception unwinds first, the destructor restores the caller's user and
// search_path (a C++ caller may catch it and go on). Keep it inside any
// subtransaction it runs in, as a local of the code that runs the SQL.
class OwnerSql {
public:
    OwnerSql();
    void leave();
    ~OwnerSql();
    OwnerSql(const OwnerSql&) = delete;
    OwnerSql& operator=(const OwnerSql&) = delete;

private:
    bool entered_ = false;
    OwnerScope scope_{};
};

}  // namespace coord::pg
