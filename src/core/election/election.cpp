#include "core/election/election.hpp"

#include "core/common/error.hpp"
#include "core/common/json.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace coord {

std::string election_lease_name(std::string_view election) {
    std::string name(kElectionLeasePrefix);
    name.append(election);
    return name;
}

namespace {

std::string describe_term(std::string_view election, Term term) {
    return fmt::format("term {} of election \"{}\"", term, election);
}

}  // namespace

CampaignOutcome decide_campaign(const std::optional<ElectionRecord>& record,
                                std::optional<Token> token, const Caller& caller,
                                std::string_view election, bool value_differs) {
    if (!token) return CampaignOutcome::follower;
    // Terms strictly increase per lease name, so a token other than the
    // recorded term is a term the record does not know yet.
    if (!record || record->term != *token) return CampaignOutcome::new_term;
    require_may_act(caller, "campaign in",
                    RoleBound{describe_term(election, *token), "is held by", record->leader_role});
    return value_differs ? CampaignOutcome::proclaim : CampaignOutcome::heartbeat;
}

std::optional<LeaderState> current_leader(const std::optional<LeaseRecord>& lease,
                                          const std::optional<ElectionRecord>& record, Micros now) {
    if (!lease || !lease->held_at(now)) return std::nullopt;
    return LeaderState{*lease->owner, lease->token, lease->expires_at,
                       record && record->term == lease->token};
}

LeaderWaitStep decide_leader_wait(const std::optional<LeaderState>& current,
                                  std::optional<Term> known_term, Micros now, Micros deadline) {
    std::optional<Term> term;
    if (current) term = current->term;
    if (term != known_term || now >= deadline) return {true, 0};
    // The leader's expiry changes the answer without anyone writing (no
    // wake-up comes then): wake for it.
    Micros until = current ? std::min(deadline, current->expires_at) : deadline;
    return {false, until};
}

bool decide_resign(const std::optional<LeaseRecord>& lease, Term term, const Caller& caller,
                   std::string_view election, Micros now) {
    if (!lease || !lease->held_by_token(term, now)) return false;
    // The term is the lease's holding: it belongs to the holding's role.
    require_may_act(caller, "resign",
                    RoleBound{describe_term(election, term), "is held by", lease->holder_role});
    return true;
}

bool term_end_unannounced(const ElectionRecord& record, const std::optional<LeaseRecord>& lease,
                          Micros now) {
    if (record.end_announced) return false;
    return !(lease && lease->held_by_token(record.term, now));
}

std::string leader_notification(std::string_view election, LeaderEvent event,
                                std::string_view leader, Term term) {
    switch (event) {
        case LeaderEvent::elected:
        case LeaderEvent::proclaimed:
            return fmt::format(R"({{"election": {}, "leader": {}, "term": {}, "event": "{}"}})",
                               json_quote(election), json_quote(leader), term,
                               event == LeaderEvent::elected ? "elected" : "proclaimed");
        case LeaderEvent::resigned:
        case LeaderEvent::expired:
            break;
    }
    return fmt::format(
        R"({{"election": {}, "leader": null, "term": null, "event": "{}", "ended_term": {}}})",
        json_quote(election), event == LeaderEvent::resigned ? "resigned" : "expired", term);
}

}  // namespace coord
