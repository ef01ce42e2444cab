// SQL entry points of leader election (extension/sql/60_election.sql).
// Invoker rights: the caller's role is taken at entry (CallingRole); the SQL
// runs as the extension's owner with search_path pinned (Spi::run).
#include "core/common/error.hpp"
#include "core/election/election.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/election/election_store.hpp"
#include "pg/election/election_wakeup.hpp"
#include "pg/leases/leases.hpp"
#include "pg/waiting/waiting.hpp"

extern "C" {
#include "access/detoast.h"
}

using namespace coord;
using namespace coord::pg;

namespace {

std::string_view election_arg(const Args& args, int i) {
    return require_text(args.get_text(i), "election", kMaxElectionNameBytes);
}

// A proclaimed value: jsonb of at most kMaxProclaimedValueBytes.
std::optional<Datum> value_arg(const Args& args, int i) {
    std::optional<Datum> value = args.get_datum(i);
    if (!value) return std::nullopt;
    std::size_t bytes = pg_call([&] { return toast_raw_datum_size(*value); }) - VARHDRSZ;
    if (bytes > kMaxProclaimedValueBytes)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("value is too large ({} bytes as jsonb, at most {})", bytes,
                                kMaxProclaimedValueBytes),
                    "Proclaim an address or an id; keep larger documents in a table.");
    return value;
}

// What coord.leader and coord.leader_wait return: the live leader, if any,
// and its proclaimed value (NULL unless the record is of that term).
struct LeaderAnswer {
    std::optional<LeaderState> state;
    std::optional<Datum> value;
};

LeaderAnswer read_leader(Spi& spi, std::string_view election) {
    std::optional<LeaseRecord> lease = read_lease(election_lease_name(election));
    std::optional<StoredElection> stored = read_election(spi, election);
    std::optional<ElectionRecord> record;
    if (stored) record = stored->record;
    LeaderAnswer answer{current_leader(lease, record, now_micros()), std::nullopt};
    if (answer.state && answer.state->record_is_of_term) answer.value = stored->value;
    return answer;
}

void emit_leader(FunctionCallInfo fcinfo, const LeaderAnswer& answer) {
    begin_result_set(fcinfo);
    if (!answer.state) return;
    Datum values[4] = {text_datum(answer.state->leader), int64_datum(answer.state->term),
                       answer.value.value_or(Datum(0)),
                       timestamptz_datum(answer.state->expires_at)};
    bool nulls[4] = {false, false, !answer.value, false};
    add_result_row(fcinfo, values, nulls);
}

}  // namespace

COORD_FUNCTION(coord_campaign) {
    CallingRole caller;
    Args args(fcinfo);
    auto election = election_arg(args, 0);
    auto candidate = require_text(args.get_text(1), "candidate", kMaxCandidateBytes);
    auto ttl = require_duration(args.get_interval(2), "ttl", kMaxLeaseTtl);
    std::optional<Datum> value = value_arg(args, 3);
    std::optional<Term> term = [&]() -> std::optional<Term> {
        Spi spi;
        // The term is the lease's holding: its token (from the one token
        // allocator) and its role. The same candidate string under another
        // role is refused there (42501), as for any lease.
        std::optional<Token> token =
            try_acquire(spi, election_lease_name(election), candidate, caller, ttl);
        if (!token) return std::nullopt;
        std::optional<StoredElection> stored = read_election(spi, election);
        std::optional<ElectionRecord> record;
        if (stored) record = stored->record;
        bool value_differs =
            value && !(stored && stored->value && jsonb_equal(*stored->value, *value));
        switch (decide_campaign(record, token, caller, election, value_differs)) {
            case CampaignOutcome::new_term:
                record_new_term(spi, election, *token, candidate, caller.role(), value);
                announce(election, LeaderEvent::elected, candidate, *token);
                break;
            case CampaignOutcome::proclaim:
                store_value(spi, election, *token, *value);
                announce(election, LeaderEvent::proclaimed, candidate, *token);
                break;
            case CampaignOutcome::heartbeat:
            case CampaignOutcome::follower:
                break;
        }
        return token;
    }();
    return term ? int64_datum(*term) : null_result(fcinfo);
}

COORD_FUNCTION(coord_leader) {
    Args args(fcinfo);
    auto election = election_arg(args, 0);
    LeaderAnswer answer = [&] {
        Spi spi;
        return read_leader(spi, election);
    }();
    emit_leader(fcinfo, answer);
    return Datum(0);
}

COORD_FUNCTION(coord_leader_wait) {
    Args args(fcinfo);
    auto election = election_arg(args, 0);
    std::optional<Term> known_term = args.get_int64(1);
    auto wait_for = require_non_negative_duration(args.get_interval(2), "wait_for", kMaxLeaderWait);
    auto look = [&] {
        Spi spi;
        return read_leader(spi, election);
    };
    Micros deadline = now_micros() + wait_for;
    if (wait_for == 0) {
        emit_leader(fcinfo, look());
        return Datum(0);
    }
    // Every look must see what committed since the last: a transaction
    // snapshot (REPEATABLE READ, SERIALIZABLE) never would.
    if (IsolationUsesXactSnapshot())
        throw Error(sqlstate::object_not_in_prerequisite_state,
                    "waiting for a change of leader needs a READ COMMITTED transaction",
                    "coord.leader_wait re-reads the election after every wake-up; a REPEATABLE READ "
                    "or SERIALIZABLE snapshot would never see the change.",
                    "Call it in its own READ COMMITTED transaction, or with wait_for => '0'.");
    LeaderWaitSleep sleep(election);
    for (;;) {
        LeaderAnswer answer = look();
        LeaderWaitStep step = decide_leader_wait(answer.state, known_term, now_micros(), deadline);
        if (step.done) {
            emit_leader(fcinfo, answer);
            return Datum(0);
        }
        sleep.sleep_until(step.sleep_until);
    }
}

COORD_FUNCTION(coord_resign) {
    CallingRole caller;
    Args args(fcinfo);
    auto election = election_arg(args, 0);
    auto term = require_present(args.get_int64(1), "term");
    std::string lease_name = election_lease_name(election);
    // A release may hand the lease to a waiter of coord.acquire: wake it.
    note_lease_touched(lease_name);
    bool resigned = [&] {
        Spi spi;
        std::optional<LeaseRecord> lease = read_lease(lease_name);
        if (!decide_resign(lease, term, caller, election, now_micros())) return false;
        if (!release(spi, lease_name, term, caller)) return false;
        // Announced once: the sweep announces only ends not marked here.
        mark_end_announced(spi, election, term, "resigned", now_micros());
        announce(election, LeaderEvent::resigned, *lease->owner, term);
        return true;
    }();
    return BoolGetDatum(resigned);
}
