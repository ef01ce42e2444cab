// coord.election_state through SPI (prepared statements), and the
// announcements: NOTIFY coord_leader and the wake-up of coord.leader_wait,
// both at commit.
#pragma once

#include "core/election/election.hpp"
#include "pg/common/spi.hpp"

namespace coord::pg {

// An election's record with the value its leader proclaims (a jsonb Datum
// copied into the caller's memory context; nullopt: SQL NULL).
struct StoredElection {
    ElectionRecord record;
    std::optional<Datum> value;
};

std::optional<StoredElection> read_election(Spi& spi, std::string_view election);

// A new term begins: the record now describes it (a record of a later term
// is never overwritten).
void record_new_term(Spi& spi, std::string_view election, Term term, std::string_view leader,
                     RoleId role, std::optional<Datum> value);

// The leader of `term` proclaims a new value.
void store_value(Spi& spi, std::string_view election, Term term, Datum value);

// Marks the end of `term` announced ("resigned" or "expired"); false when
// that end was already announced or the record moved on to another term.
bool mark_end_announced(Spi& spi, std::string_view election, Term term, const char* how,
                        Micros ended_at);

// True when two jsonb values are equal.
bool jsonb_equal(Datum a, Datum b);

// Sends NOTIFY coord_leader (at commit) and, for a change of term, wakes
// coord.leader_wait's sleepers (at commit).
void announce(std::string_view election, LeaderEvent event, std::string_view leader, Term term);

}  // namespace coord::pg
