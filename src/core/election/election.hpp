// Leader election on leases: the leader of election E holds the lease
// "election:E", and its term is that lease's fencing token. These rules say
// what a campaign did, who leads, when a wait for a change is over, who may
// resign, and when the end of a term is still to be announced. The glue
// reads the lease and the election's record, asks these functions, and
// writes back what they decided.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/roles.hpp"
#include "core/common/time.hpp"
#include "core/common/validate.hpp"
#include "core/leases/lease.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace coord {

using Term = Token;

inline constexpr std::string_view kElectionLeasePrefix = "election:";
// Documented limits (README, "Leader election").
inline constexpr std::size_t kMaxElectionNameBytes = kMaxNameBytes - kElectionLeasePrefix.size();
inline constexpr std::size_t kMaxCandidateBytes = kMaxOwnerBytes;
inline constexpr std::size_t kMaxProclaimedValueBytes = 8192;
inline constexpr Micros kMaxLeaderWait = kMicrosPerDay;

// The lease an election's leader holds: "election:" || election.
std::string election_lease_name(std::string_view election);

// What coord.election_state keeps of an election's latest term.
struct ElectionRecord {
    Term term = 0;
    std::string leader;       // the candidate that holds (or held) `term`
    RoleId leader_role = 0;   // the role that campaigned for it
    bool end_announced = false;  // its resignation or expiry was announced
};

// What a campaign did, once the lease call answered with `token` (nullopt:
// another candidate leads).
enum class CampaignOutcome {
    follower,   // not the leader: nothing to write
    new_term,   // a new term begins: record it, announce it
    heartbeat,  // the leader's own call, nothing new: nothing more to write
    proclaim,   // the leader's own call with a new value: store it, announce it
};

// Throws Error(insufficient_privilege) when `token` continues a term that
// another role campaigned for (the lease call then rolls back with it). The
// lease's own rule (decide_acquire) refuses that first; this one keeps the
// record's role and the lease's from ever disagreeing silently.
CampaignOutcome decide_campaign(const std::optional<ElectionRecord>& record,
                                std::optional<Token> token, const Caller& caller,
                                std::string_view election, bool value_differs);

// The current leader, as coord.leader() shows it.
struct LeaderState {
    std::string leader;
    Term term = 0;
    Micros expires_at = 0;
    bool record_is_of_term = false;  // the record (its value) belongs to this term
};

// Who leads at `now`: the lease's live holder, if any.
std::optional<LeaderState> current_leader(const std::optional<LeaseRecord>& lease,
                                          const std::optional<ElectionRecord>& record, Micros now);

// One step of coord.leader_wait: done when the current term (none when
// nobody leads) differs from `known_term`, or the deadline has passed;
// otherwise sleep until `sleep_until` (the deadline, or the leader's expiry,
// whichever is first) unless woken before.
struct LeaderWaitStep {
    bool done = false;
    Micros sleep_until = 0;
};
LeaderWaitStep decide_leader_wait(const std::optional<LeaderState>& current,
                                  std::optional<Term> known_term, Micros now, Micros deadline);

// True when `term` is the election's live term, so that resigning ends it;
// false when it is not (already over, or never was: nothing to do). Throws
// Error(insufficient_privilege) when it is live but another role's term.
bool decide_resign(const std::optional<LeaseRecord>& lease, Term term, const Caller& caller,
                   std::string_view election, Micros now);

// True when the record's term is over (the lease lapsed, was released, or
// moved on to a term not recorded here) and its end was not announced yet.
bool term_end_unannounced(const ElectionRecord& record, const std::optional<LeaseRecord>& lease,
                          Micros now);

// The payload of NOTIFY coord_leader, a JSON object:
//   {"election": e, "leader": candidate, "term": n, "event": "elected"|"proclaimed"}
//   {"election": e, "leader": null, "term": null, "event": "resigned"|"expired", "ended_term": n}
enum class LeaderEvent { elected, proclaimed, resigned, expired };
std::string leader_notification(std::string_view election, LeaderEvent event,
                                std::string_view leader, Term term);

}  // namespace coord
