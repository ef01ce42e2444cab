// SQL entry points of collaborative documents (extension/sql/70_collab.sql):
// coord.doc_append and coord.doc_snapshot. The rules are the core's
// (core/collab/update_log.hpp); here they are applied to coord.doc_updates.
//
// An append is one INSERT plus index look-ups: no per-document row is
// written (so appends to one document never queue behind each other's row
// lock), the position comes from a sequence, and the announcement is a row
// of the unlogged coord.doc_announce that the background worker turns into
// one NOTIFY coord_doc per document per sweep (a NOTIFY in the appending
// transaction would serialize every commit on PostgreSQL's notify queue
// lock). Invoker rights: the SQL runs as the extension's owner.
#include "core/collab/update_log.hpp"
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "pg/collab/collab_datum.hpp"
#include "pg/collab/doc_store.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/run_as_owner.hpp"
#include "pg/common/spi.hpp"

extern "C" {
#include "tcop/utility.h"
}

using namespace coord;
using namespace coord::collab;
using namespace coord::pg;

namespace {

// Held updates and the appends that release them must see each other: an
// append that is delivered takes the document's lock in share mode (appends
// to one document still run side by side), an append that would be held
// takes it exclusively and decides again once granted (so it sees every
// append that was delivered before it). Without it, X held on Y and Y
// appended concurrently could both commit without seeing each other, and X
// would stay held. The lock is a heavyweight lock of the transaction
// (doc_store.hpp: lock_document_in_pg), with a tag of the advisory kind that
// no pg_advisory_* call uses, so it never collides with an application's
// advisory locks.
void lock_document(std::string_view doc, bool exclusive) {
    pg_call([&] { lock_document_in_pg(doc, exclusive); });
}

struct StoredSeq {
    Seq last = 0;                     // the client's highest stored seq (0: none)
    Seq delivered = 0;                // the client's highest delivered seq (0: none)
    std::optional<bool> same;         // the stored payload of this seq equals the new one
    std::optional<Position> position; // of this seq, when delivered
    bool found = false;               // this seq is stored
};

StoredSeq look_up(Spi& spi, std::string_view doc, std::string_view client, Seq seq, Datum payload) {
    static Statement select(
        "SELECT (SELECT u.seq FROM coord.doc_updates u WHERE u.doc = $1 AND u.client = $2 "
        "        ORDER BY u.seq DESC LIMIT 1), "
        "       s.payload = $4, s.position, s.seq IS NOT NULL, "
        "       (SELECT u.seq FROM coord.doc_updates u WHERE u.doc = $1 AND u.client = $2 "
        "        AND u.position IS NOT NULL ORDER BY u.seq DESC LIMIT 1) "
        "FROM (SELECT 1) one LEFT JOIN coord.doc_updates s "
        "  ON s.doc = $1 AND s.client = $2 AND s.seq = $3",
        {TEXTOID, TEXTOID, INT8OID, BYTEAOID}, /*generic_plan=*/true);
    spi.run(select, {text_param(doc), text_param(client), int64_param(seq), datum_param(BYTEAOID, payload)});
    Row row = *spi.first_row();
    StoredSeq s;
    s.last = row.get_int64(1).value_or(0);
    s.found = row.get_boolean(4).value_or(false);
    if (s.found) s.same = row.get_boolean(2);
    s.position = row.get_int64(3);
    s.delivered = row.get_int64(5).value_or(0);
    return s;
}

// The delivered state of the given clients (their highest delivered seq).
StateVector delivered_of(Spi& spi, std::string_view doc, const std::vector<std::string>& clients) {
    static Statement select(
        "SELECT d.c, (SELECT u.seq FROM coord.doc_updates u WHERE u.doc = $1 AND u.client = d.c "
        "             AND u.position IS NOT NULL ORDER BY u.seq DESC LIMIT 1) "
        "FROM pg_catalog.unnest($2::text[]) d(c)",
        {TEXTOID, TEXTARRAYOID}, /*generic_plan=*/true);
    Datum array = pg_call([&] { return text_array_datum(clients); });
    spi.run(select, {text_param(doc), datum_param(TEXTARRAYOID, array)});
    StateVector sv;
    for (std::uint64_t i = 0; i < spi.rows(); ++i) {
        Row row = spi.row(i);
        if (auto seq = row.get_int64(2)) sv[*row.get_text(1)] = *seq;
    }
    return sv;
}

std::vector<std::string> clients_of(const StateVector& need) {
    std::vector<std::string> clients;
    for (const auto& [c, s] : need) clients.push_back(c);
    return clients;
}

void count_new_client(Spi& spi, std::string_view doc, std::string_view client) {
    static Statement insert(
        "INSERT INTO coord.doc_clients (doc, client, first_at) VALUES ($1, $2, pg_catalog.clock_timestamp()) "
        "ON CONFLICT DO NOTHING",
        {TEXTOID, TEXTOID}, /*generic_plan=*/true);
    if (spi.run(insert, {text_param(doc), text_param(client)}) == 0) return;
    static Statement count(
        "SELECT pg_catalog.count(*) FROM coord.doc_clients WHERE doc = $1", {TEXTOID}, true);
    spi.run(count, {text_param(doc)});
    std::int64_t n = spi.first_row()->get_int64(1).value_or(0);
    if (n > static_cast<std::int64_t>(kMaxClientsPerDoc))
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("document \"{}\" already has {} clients: client \"{}\" would exceed "
                                "the maximum",
                                doc, kMaxClientsPerDoc, client));
}

// Delivers every held update of `doc` whose dependencies are now delivered,
// in dependency order. Returns the highest position given (0: none).
Position release_held(Spi& spi, std::string_view doc) {
    static Statement held_rows(
        "SELECT client, seq, COALESCE(deps::text, '{}') FROM coord.doc_updates "
        "WHERE doc = $1 AND position IS NULL ORDER BY client, seq",
        {TEXTOID}, /*generic_plan=*/true);
    spi.run(held_rows, {text_param(doc)});
    if (spi.rows() == 0) return 0;
    std::vector<Update> held;
    StateVector need;
    for (std::uint64_t i = 0; i < spi.rows(); ++i) {
        Row row = spi.row(i);
        Update u{*row.get_text(1), *row.get_int64(2),
                 parse_state_vector(*row.get_text(3), "deps", kMaxDepsClients)};
        for (const auto& [c, s] : requirements(u)) need[c] = std::max(need[c], s);
        need.emplace(u.client, 0);
        held.push_back(std::move(u));
    }
    StateVector sv = delivered_of(spi, doc, clients_of(need));
    static Statement deliver(
        "UPDATE coord.doc_updates SET position = pg_catalog.nextval('coord.doc_position') "
        "WHERE doc = $1 AND client = $2 AND seq = $3 AND position IS NULL RETURNING position",
        {TEXTOID, TEXTOID, INT8OID}, /*generic_plan=*/true);
    Position last = 0;
    for (std::size_t i : release_order(held, sv)) {
        spi.run(deliver, {text_param(doc), text_param(held[i].client), int64_param(held[i].seq)});
        if (auto row = spi.first_row()) last = std::max(last, row->get_int64(1).value_or(0));
    }
    return last;
}

void announce(Spi& spi, std::string_view doc, Position position) {
    static Statement insert("INSERT INTO coord.doc_announce (doc, position) VALUES ($1, $2)",
                            {TEXTOID, INT8OID}, /*generic_plan=*/true);
    spi.run(insert, {text_param(doc), int64_param(position)});
}

struct AppendAnswer {
    bool accepted;
    std::optional<Position> position;
};

AppendAnswer answer_resend(std::string_view doc, const Update& u, const StoredSeq& s) {
    classify_append(doc, u, s.last, s.same);  // PC002 for another payload
    return {false, s.position};
}

// Whether every requirement is delivered: the client's own previous seq from
// the look-up, the deps' clients read (only when there are any).
bool ready_to_deliver(Spi& spi, std::string_view doc, const Update& u, const StateVector& need,
                      Seq own_delivered) {
    std::vector<std::string> others;
    for (const auto& [c, seq] : need)
        if (c != u.client) others.push_back(c);
    StateVector delivered = others.empty() ? StateVector{} : delivered_of(spi, doc, others);
    if (own_delivered > 0) delivered[u.client] = own_delivered;
    return deliverable(u, delivered);
}

// The usual append is two statements: the look-up, and one INSERT that also
// leaves the announcement and tells whether the document holds updates
// (which this delivery may release). Its snapshot is taken after the
// document's lock, so it sees every held update committed before.
AppendAnswer append(Spi& spi, const CallingRole& caller, std::string_view doc, const Update& u,
                    Datum payload, std::optional<Datum> deps) {
    StateVector need = requirements(u);
    StoredSeq s = look_up(spi, doc, u.client, u.seq, payload);
    if (u.seq <= s.last) return answer_resend(doc, u, s);
    classify_append(doc, u, s.last, std::nullopt);  // PC003 for a gap
    if (u.seq == 1) count_new_client(spi, doc, u.client);
    bool ready = ready_to_deliver(spi, doc, u, need, s.delivered);
    lock_document(doc, /*exclusive=*/!ready);
    if (!ready) ready = deliverable(u, delivered_of(spi, doc, clients_of(need)));
    static Statement insert(
        "WITH stored AS ("
        "  INSERT INTO coord.doc_updates (doc, client, seq, position, deps, payload, appended_by, appended_at) "
        "  VALUES ($1, $2, $3, CASE WHEN $4 THEN pg_catalog.nextval('coord.doc_position') END, $5, $6, "
        "          $7, pg_catalog.clock_timestamp()) "
        "  ON CONFLICT DO NOTHING RETURNING position), "
        "announced AS ("
        "  INSERT INTO coord.doc_announce (doc, position) "
        "  SELECT $1, stored.position FROM stored WHERE stored.position IS NOT NULL) "
        "SELECT stored.position, $4 AND EXISTS (SELECT 1 FROM coord.doc_updates h "
        "                                       WHERE h.doc = $1 AND h.position IS NULL) "
        "FROM stored",
        {TEXTOID, TEXTOID, INT8OID, BOOLOID, JSONBOID, BYTEAOID, OIDOID}, /*generic_plan=*/true);
    std::uint64_t inserted =
        spi.run(insert, {text_param(doc), text_param(u.client), int64_param(u.seq), bool_param(ready),
                         datum_param(JSONBOID, deps), datum_param(BYTEAOID, payload),
                         datum_param(OIDOID, ObjectIdGetDatum(caller.role()))});
    if (inserted == 0) {
        // A concurrent append of the same seq committed first: a resend now.
        return answer_resend(doc, u, look_up(spi, doc, u.client, u.seq, payload));
    }
    Row row = *spi.first_row();
    std::optional<Position> position = row.get_int64(1);
    if (!position) return {true, std::nullopt};
    if (row.get_boolean(2).value_or(false)) {
        Position released = release_held(spi, doc);
        if (released > *position) announce(spi, doc, released);
    }
    return {true, position};
}

}  // namespace

COORD_FUNCTION(coord_doc_append) {
    CallingRole caller;
    Args args(fcinfo);
    std::string_view doc = require_text(args.get_text(0), "doc", kMaxDocBytes);
    Update u;
    u.client = std::string(require_text(args.get_text(1), "client", kMaxClientBytes));
    u.seq = require_seq(args.get_int64(2));
    Datum payload = require_present(args.get_datum(3), "payload");
    std::size_t bytes = varlena_bytes(payload);
    if (bytes > kMaxPayloadBytes)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("payload is too large ({} bytes, at most {})", bytes, kMaxPayloadBytes));
    std::optional<Datum> deps = args.get_datum(4);
    if (deps) {
        if (varlena_bytes(*deps) > 1024 * 1024)
            throw Error(sqlstate::invalid_parameter_value, "deps is too large");
        u.deps = parse_state_vector(jsonb_text(*deps), "deps", kMaxDepsClients);
    }
    requirements(u);  // a dependency on its own later seq: 22023
    // As PostgreSQL's INSERT would (the statement that stores it is a WITH).
    pg_call([] {
        PreventCommandIfReadOnly("INSERT");
        return 0;
    });
    AppendAnswer answer = [&] {
        // The usual append (the next seq, every dependency delivered)
        // without SQL; anything else is decided by the SQL path.
        DirectAppend direct = append_directly(doc, u, requirements(u), payload, deps, caller.role());
        if (direct.handled) {
            if (direct.held_exist) {
                Spi spi;
                OwnerSql as_owner;
                Position released = release_held(spi, doc);
                if (released > direct.position) announce(spi, doc, released);
            }
            return AppendAnswer{true, direct.position};
        }
        Spi spi;
        OwnerSql as_owner;  // one owner scope for all its statements
        return append(spi, caller, doc, u, payload, deps);
    }();
    begin_result_set(fcinfo);
    Datum values[3] = {BoolGetDatum(answer.accepted), int64_datum(answer.position.value_or(0)),
                       text_datum(answer.position ? "delivered" : "held")};
    bool nulls[3] = {false, !answer.position, false};
    add_result_row(fcinfo, values, nulls);
    return Datum(0);
}

COORD_FUNCTION(coord_doc_snapshot) {
    CallingRole caller;
    Args args(fcinfo);
    std::string_view doc = require_text(args.get_text(0), "doc", kMaxDocBytes);
    Datum vector_arg = require_present(args.get_datum(1), "state_vector");
    StateVector covers = parse_state_vector(jsonb_text(vector_arg), "state_vector");
    Datum snapshot = require_present(args.get_datum(2), "snapshot");
    std::size_t bytes = varlena_bytes(snapshot);
    if (bytes > kMaxSnapshotBytes)
        throw Error(sqlstate::invalid_parameter_value,
                    fmt::format("snapshot is too large ({} bytes, at most {})", bytes, kMaxSnapshotBytes));
    if (covers.empty())
        throw Error(sqlstate::invalid_parameter_value, "state_vector of a snapshot must cover at least one update");
    std::int64_t id = [&] {
        Spi spi;
        OwnerSql as_owner;
        StateVector have = delivered_of(spi, doc, clients_of(covers));
        for (const auto& [client, seq] : covers) {
            auto it = have.find(client);
            Seq delivered = it == have.end() ? 0 : it->second;
            if (delivered < seq)
                throw Error(sqlstate::invalid_parameter_value,
                            fmt::format("state_vector covers update {} of client \"{}\", but document "
                                        "\"{}\" has delivered only {} of that client",
                                        seq, client, doc, delivered));
        }
        std::int64_t covered = 0;
        for (const auto& [client, seq] : covers) covered += seq;
        static Statement insert(
            "INSERT INTO coord.doc_snapshots (doc, state_vector, covers, snapshot, created_by, created_at) "
            "VALUES ($1, $2, $3, $4, $5, pg_catalog.clock_timestamp()) RETURNING id",
            {TEXTOID, JSONBOID, INT8OID, BYTEAOID, OIDOID}, /*generic_plan=*/true);
        Datum canonical = jsonb_datum(state_vector_json(covers));
        spi.run(insert, {text_param(doc), datum_param(JSONBOID, canonical), int64_param(covered),
                         datum_param(BYTEAOID, snapshot), datum_param(OIDOID, ObjectIdGetDatum(caller.role()))});
        return spi.first_row()->get_int64(1).value_or(0);
    }();
    return int64_datum(id);
}
