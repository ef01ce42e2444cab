#include "core/leases/lease.hpp"

#include "core/common/error.hpp"

#include <fmt/format.h>

namespace coord {

namespace {

// Throws 42501 unless `caller` may act on the live holding `current`.
void require_holding_role(const LeaseRecord& current, std::string_view name, const Caller& caller,
                          std::string_view action) {
    if (current.holder_role == caller.role()) return;  // the common case: no look-up
    std::string subject = fmt::format("lease \"{}\"", name);
    require_may_act(caller, action, RoleBound{subject, "is held by", current.holder_role});
}

}  // namespace

AcquireDecision decide_acquire(const std::optional<LeaseRecord>& current, std::string_view name,
                               std::string_view owner, const Caller& caller, Micros now,
                               Micros ttl, const TokenSource& new_token) {
    using Kind = AcquireDecision::Kind;
    if (!acquire_grants_new_holding(current, now)) {
        if (*current->owner != owner) return {Kind::busy};
        require_holding_role(*current, name, caller, "acquire");
        return {Kind::extended, current->token, current->acquired_at, now + ttl,
                current->holder_role};
    }
    return {Kind::granted, new_token(current ? current->token : 0), now, now + ttl, caller.role()};
}

bool acquire_grants_new_holding(const std::optional<LeaseRecord>& current, Micros now) {
    return !current || !current->held_at(now);
}

namespace {

// Why `token` is not the current holding, for the error's detail line.
std::string why_not_holding(const std::optional<LeaseRecord>& current, Token token) {
    if (!current || !current->owner) return "The lease is not held by anyone.";
    if (current->token != token)
        return fmt::format("The lease's current token is {}.", current->token);
    return "The holding has expired.";
}

[[noreturn]] void throw_lease_lost(const std::optional<LeaseRecord>& current,
                                   std::string_view name, Token token) {
    throw Error(sqlstate::lease_lost,
                fmt::format("lease \"{}\" is not held by token {}", name, token),
                why_not_holding(current, token),
                "Stop writing on behalf of this lease; acquire it again to get a new token.");
}

}  // namespace

Micros decide_renew(const std::optional<LeaseRecord>& current, std::string_view name, Token token,
                    const Caller& caller, Micros now, Micros ttl) {
    if (!current || !current->held_by_token(token, now)) throw_lease_lost(current, name, token);
    require_holding_role(*current, name, caller, "renew");
    return now + ttl;
}

bool decide_release(const std::optional<LeaseRecord>& current, std::string_view name, Token token,
                    const Caller& caller, Micros now) {
    if (!current || !current->held_by_token(token, now)) return false;
    require_holding_role(*current, name, caller, "release");
    return true;
}

bool decide_force_release(const std::optional<LeaseRecord>& current, Micros now) {
    return current && current->held_at(now);
}

LeaseRecord hand_over(const LeaseRecord& released, std::string_view next_owner, RoleId next_role,
                      Micros now, Micros ttl, const TokenSource& new_token) {
    return LeaseRecord{std::string(next_owner), new_token(released.token), now, now + ttl, next_role};
}

bool handed_over_to(const std::optional<LeaseRecord>& current, std::string_view owner, Token token,
                    Micros now) {
    return current && current->held_by_token(token, now) && *current->owner == owner;
}

void check_fence(const std::optional<LeaseRecord>& current, std::string_view name, Token token,
                 const Caller& caller, Micros now) {
    if (!current || !current->held_by_token(token, now)) throw_lease_lost(current, name, token);
    require_holding_role(*current, name, caller, "check the fence of");
}

bool released_by_release_all(const LeaseRecord& holding, std::string_view owner, RoleId caller_role,
                             Micros now) {
    return holding.held_at(now) && *holding.owner == owner && holding.holder_role == caller_role;
}

}  // namespace coord
