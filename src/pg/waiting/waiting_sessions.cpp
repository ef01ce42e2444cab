// The owners each session has acted as (acquired, renewed, released or
// waited as), kept in shared memory until the backend exits: a session of an
// owner that is not waiting can still release that owner's holdings, so the
// wait-for graph counts it (wait_state.hpp).
#include "pg/waiting/waiting.hpp"
#include "pg/waiting/waiting_internal.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/proc.h"
}

#include <cstring>

namespace coord::pg {

namespace waiting {

namespace {

std::vector<std::string> recorded_owners;  // this session's record, as kept in shared memory
bool recorded_any_owner = false;
bool session_exit_hook_registered = false;

void clear_session_record(int, Datum) {
    if (shared == nullptr || MyProc == nullptr) return;
    LockGuard guard(misc_lock(), LW_EXCLUSIVE);
    SessionOwners& r = session_owners[MyProc->pgprocno];
    if (r.pid == MyProcPid) r.pid = 0;
}

}  // namespace

std::vector<SessionOwnersCopy> copy_session_owners(Oid db) {
    // Copy the records under the lock, build strings after releasing it.
    std::vector<SessionOwners> raw(static_cast<std::size_t>(shared->nbackends));
    std::vector<int> procnos(raw.size());
    std::size_t n = 0;
    {
        LockGuard guard(misc_lock(), LW_SHARED);
        for (int p = 0; p < shared->nbackends; ++p) {
            const SessionOwners& r = session_owners[p];
            if (r.pid == 0 || r.database != db || GetPGProcByNumber(p)->pid != r.pid) continue;
            procnos[n] = p;
            raw[n++] = r;
        }
    }
    std::vector<SessionOwnersCopy> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        SessionOwnersCopy c{procnos[i], raw[i].pid, raw[i].overflow, {}};
        for (int k = 0; k < raw[i].count && k < kSessionOwners; ++k) c.owners.emplace_back(raw[i].owners[k]);
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace waiting

using namespace waiting;

void note_owner_session(std::string_view owner) {
    if (shared == nullptr || recorded_any_owner || MyProc == nullptr) return;
    for (const std::string& o : recorded_owners)
        if (o == owner) return;
    if (!session_exit_hook_registered) {
        pg_call([] { before_shmem_exit(clear_session_record, 0); });
        session_exit_hook_registered = true;
    }
    char buf[kOwnerSize];
    copy_text(buf, sizeof buf, owner);
    bool overflow = false;
    {
        LockGuard guard(misc_lock(), LW_EXCLUSIVE);
        SessionOwners& r = session_owners[MyProc->pgprocno];
        if (r.pid != MyProcPid) {
            r.pid = MyProcPid;
            r.database = MyDatabaseId;
            r.count = 0;
            r.overflow = false;
        }
        if (r.count < kSessionOwners)
            std::memcpy(r.owners[r.count++], buf, kOwnerSize);
        else
            r.overflow = true;
        overflow = r.overflow;
    }
    if (overflow)
        recorded_any_owner = true;
    else
        recorded_owners.emplace_back(owner);
}

}  // namespace coord::pg
