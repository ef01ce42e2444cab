// Lease rules: who holds a lease, what acquire/renew/release/fence decide.
// The glue loads the lease row under a row lock, asks these functions, and
// writes back what they decided.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/roles.hpp"
#include "core/common/time.hpp"
#include "core/common/token.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace coord {

// One lease name's stored state. A name that was never acquired has no
// record. `token` is the last token committed for the name: it stays when
// the lease is released so that the next holding gets a larger one.
// `holder_role` is the role that took the holding: only it (or coord_admin)
// may act on the holding, whatever owner string or token a caller presents.
struct LeaseRecord {
    std::optional<std::string> owner;  // nullopt: free
    Token token = 0;
    Micros acquired_at = 0;
    Micros expires_at = 0;
    RoleId holder_role = 0;  // meaningful while owner is set

    bool held_at(Micros now) const { return owner.has_value() && expires_at > now; }
    bool held_by_token(Token t, Micros now) const { return held_at(now) && token == t; }
};

struct AcquireDecision {
    enum class Kind {
        granted,   // a new holding with a new, larger token
        extended,  // the same owner already held it: same token, later expiry
        busy,      // another owner holds it
    };
    Kind kind;
    Token token = 0;  // the holding's token (granted/extended)
    Micros acquired_at = 0;
    Micros expires_at = 0;
    RoleId holder_role = 0;  // granted: the caller's; extended: the holding's own

    bool write_needed() const { return kind != Kind::busy; }
};

// The same owner's retry extends the holding only for the holding's role
// (or coord_admin); for another role it throws 42501 and nothing changes.
// A grant takes its token from `new_token` (called only then).
AcquireDecision decide_acquire(const std::optional<LeaseRecord>& current, std::string_view name,
                               std::string_view owner, const Caller& caller, Micros now,
                               Micros ttl, const TokenSource& new_token);

// True when an acquire by anyone would be a new holding (granted): the
// lease is free, or its holding has expired.
bool acquire_grants_new_holding(const std::optional<LeaseRecord>& current, Micros now);

// The new expiry; throws Error(lease_lost) unless `token` is the current,
// unexpired holding, and 42501 when that holding is another role's.
Micros decide_renew(const std::optional<LeaseRecord>& current, std::string_view name, Token token,
                    const Caller& caller, Micros now, Micros ttl);

// True when `token` is the current, unexpired holding (which then ends);
// throws 42501 when that holding is another role's.
bool decide_release(const std::optional<LeaseRecord>& current, std::string_view name, Token token,
                    const Caller& caller, Micros now);

// True when a live (unexpired) holding is ended by an administrator.
bool decide_force_release(const std::optional<LeaseRecord>& current, Micros now);

// A release with someone waiting hands the lease straight to the first
// waiter: the row the release writes instead of a free one (a new token from
// `new_token`; the waiter's ttl counted from now; the waiter's role).
LeaseRecord hand_over(const LeaseRecord& released, std::string_view next_owner, RoleId next_role,
                      Micros now, Micros ttl, const TokenSource& new_token);

// True when the row shows the hand-off a waiter was promised: `owner` holds
// the lease, live, with exactly `token` (false when the releasing
// transaction rolled back or the lease changed hands again since).
bool handed_over_to(const std::optional<LeaseRecord>& current, std::string_view owner, Token token,
                    Micros now);

// Throws Error(lease_lost) unless `token` is the current, unexpired holding,
// and 42501 when that holding is another role's.
void check_fence(const std::optional<LeaseRecord>& current, std::string_view name, Token token,
                 const Caller& caller, Micros now);

// release_all(owner): the holdings it releases are those of `owner` that are
// held now and belong to the calling role itself (not to another role the
// caller has the privileges of, also for coord_admin: force_release is for
// others' holdings). Owner strings are identifiers, never credentials.
bool released_by_release_all(const LeaseRecord& holding, std::string_view owner, RoleId caller_role,
                             Micros now);

}  // namespace coord
