#include "pg/election/election_store.hpp"

#include "pg/election/election_wakeup.hpp"

extern "C" {
#include "commands/async.h"
#include "utils/jsonb.h"
}

namespace coord::pg {

std::optional<StoredElection> read_election(Spi& spi, std::string_view election) {
    static Statement select(
        "SELECT term, leader, leader_role::pg_catalog.oid, value, ended IS NOT NULL "
        "FROM coord.election_state WHERE election = $1",
        {TEXTOID}, /*generic_plan=*/true);
    spi.run(select, {text_param(election)});
    std::optional<Row> row = spi.first_row();
    if (!row) return std::nullopt;
    StoredElection stored;
    stored.record.term = row->get_int64(1).value_or(0);
    stored.record.leader = row->get_text(2).value_or("");
    stored.record.leader_role = static_cast<RoleId>(row->get_oid(3).value_or(InvalidOid));
    stored.value = row->get_datum_copy(4, spi.caller_context());
    stored.record.end_announced = row->get_boolean(5).value_or(false);
    return stored;
}

void record_new_term(Spi& spi, std::string_view election, Term term, std::string_view leader,
                     RoleId role, std::optional<Datum> value) {
    static Statement upsert(
        "INSERT INTO coord.election_state AS e (election, term, leader, leader_role, value, elected_at) "
        "VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp()) "
        "ON CONFLICT (election) DO UPDATE SET term = excluded.term, leader = excluded.leader, "
        "leader_role = excluded.leader_role, value = excluded.value, "
        "elected_at = excluded.elected_at, ended = NULL, ended_at = NULL "
        "WHERE e.term < excluded.term",
        {TEXTOID, INT8OID, TEXTOID, OIDOID, JSONBOID}, /*generic_plan=*/true);
    spi.run(upsert, {text_param(election), int64_param(term), text_param(leader),
                     datum_param(OIDOID, ObjectIdGetDatum(role)), datum_param(JSONBOID, value)});
}

void store_value(Spi& spi, std::string_view election, Term term, Datum value) {
    static Statement update(
        "UPDATE coord.election_state SET value = $3 WHERE election = $1 AND term = $2",
        {TEXTOID, INT8OID, JSONBOID}, /*generic_plan=*/true);
    spi.run(update, {text_param(election), int64_param(term), datum_param(JSONBOID, value)});
}

bool mark_end_announced(Spi& spi, std::string_view election, Term term, const char* how,
                        Micros ended_at) {
    static Statement update(
        "UPDATE coord.election_state SET ended = $3, ended_at = $4 "
        "WHERE election = $1 AND term = $2 AND ended IS NULL",
        {TEXTOID, INT8OID, TEXTOID, TIMESTAMPTZOID}, /*generic_plan=*/true);
    return spi.run(update, {text_param(election), int64_param(term), text_param(how),
                            timestamptz_param(ended_at)}) == 1;
}

bool jsonb_equal(Datum a, Datum b) {
    return pg_call([&] { return DatumGetBool(DirectFunctionCall2(jsonb_eq, a, b)); });
}

void announce(std::string_view election, LeaderEvent event, std::string_view leader, Term term) {
    std::string payload = leader_notification(election, event, leader, term);
    const char* text = payload.c_str();
    pg_call([&] { Async_Notify("coord_leader", text); });
    if (event != LeaderEvent::proclaimed) wake_leader_waiters_at_commit(election);
}

}  // namespace coord::pg
