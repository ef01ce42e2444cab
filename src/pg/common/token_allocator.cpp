#include "pg/common/token_allocator.hpp"

#include "pg/common/coord_relations.hpp"
#include "pg/common/datum.hpp"
#include "pg/common/guard.hpp"

extern "C" {
#include "access/relation.h"
#include "access/xlog.h"
#include "commands/sequence.h"
#include "storage/bufmgr.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
}

namespace coord::pg {

namespace {

// This backend's epoch for the server's current timeline. Valid while the
// record sequence is the same relation and the timeline has not changed (a
// promotion while the session lives). Another session writing the record
// does not change the answer (see epoch_of_timeline).
struct EpochCache {
    Oid record;
    TimeLineID timeline;
    std::int64_t epoch;
};
EpochCache epoch_cache{InvalidOid, 0, 0};

// As the owner of `sequence` (the extension's owner): the caller may hold
// no privilege on the extension's sequences, by design. Inside pg_call.
template <typename F>
void as_sequence_owner(Oid sequence, F&& f) {
    Relation rel = relation_open(sequence, AccessShareLock);
    Oid owner = rel->rd_rel->relowner;
    relation_close(rel, AccessShareLock);
    Oid saved_user;
    int saved_context;
    GetUserIdAndSecContext(&saved_user, &saved_context);
    SetUserIdAndSecContext(owner, saved_context | SECURITY_LOCAL_USERID_CHANGE);
    PG_TRY();
    { f(); }
    PG_FINALLY();
    { SetUserIdAndSecContext(saved_user, saved_context); }
    PG_END_TRY();
}

struct ServerState {
    bool recorded;               // the record sequence was ever set
    std::int64_t record;
    std::uint64_t system_identifier;
    TimeLineID timeline;
};

ServerState read_server_state(Oid record_sequence) {
    return pg_call([&] {
        ServerState s{};
        as_sequence_owner(record_sequence, [&] {
            LOCAL_FCINFO(call, 1);
            InitFunctionCallInfoData(*call, nullptr, 1, InvalidOid, nullptr, nullptr);
            call->args[0].value = ObjectIdGetDatum(record_sequence);
            call->args[0].isnull = false;
            Datum value = pg_sequence_last_value(call);
            s.recorded = !call->isnull;
            s.record = s.recorded ? DatumGetInt64(value) : 0;
        });
        s.system_identifier = GetSystemIdentifier();
        s.timeline = GetWALInsertionTimeLine();
        return s;
    });
}

// setval is not transactional; flushed, the record is on disk before any
// token of its epoch.
void write_record(Oid record_sequence, std::int64_t value) {
    pg_call([&] {
        as_sequence_owner(record_sequence, [&] {
            DirectFunctionCall3(setval3_oid, ObjectIdGetDatum(record_sequence),
                                Int64GetDatum(value), BoolGetDatum(true));
        });
        // The end of setval's own record: the insert position can lie past a
        // page header no record has reached yet, which XLogFlush refuses
        // ("xlog flush request ... is not satisfied"; seen in token_promotion.pl).
        XLogFlush(XactLastRecEnd);
    });
}

std::int64_t current_epoch() {
    Oid record_sequence = pg_call([] { return coord_relation_oid(CoordRelation::token_epoch); });
    TimeLineID timeline = pg_call([] { return GetWALInsertionTimeLine(); });
    if (epoch_cache.record == record_sequence && epoch_cache.timeline == timeline)
        return epoch_cache.epoch;
    ServerState s = read_server_state(record_sequence);
    std::optional<EpochRecord> record =
        unpack_epoch_record(s.recorded ? std::optional<std::int64_t>(s.record) : std::nullopt);
    std::uint32_t cluster = cluster_fingerprint(s.system_identifier);
    std::int64_t epoch = epoch_of_timeline(record, cluster, s.timeline);
    EpochRecord now{cluster, static_cast<std::int64_t>(s.timeline), epoch};
    // Written once per cluster and timeline, so that a dump (or pg_upgrade)
    // carries this timeline's epoch to the next cluster.
    if (!record || !(*record == now)) write_record(record_sequence, pack_epoch_record(now));
    epoch_cache = EpochCache{record_sequence, s.timeline, epoch};
    return epoch;
}

}  // namespace

std::int64_t token_epoch_now() {
    pg_call([] {
        // Also keeps a standby (always read-only) from asking for a timeline.
        PreventCommandIfReadOnly("a fencing token grant");
        PreventCommandIfParallelMode("a fencing token grant");
    });
    return current_epoch();
}

// Counter values, durable: the sequence WAL-logs 32 values ahead without
// flushing, so the record that covers the last value (the page's LSN) is
// flushed before any value is used. Usually it already is.
void reserve_counters(std::int64_t* out, int n) {
    Oid counter = pg_call([] { return coord_relation_oid(CoordRelation::token_allocator); });
    try {
        pg_call([&] {
            for (int k = 0; k < n; ++k) out[k] = nextval_internal(counter, false);
            Relation rel = relation_open(counter, NoLock);  // locked by nextval
            Buffer buffer = ReadBuffer(rel, 0);
            LockBuffer(buffer, BUFFER_LOCK_SHARE);
            XLogRecPtr covering = PageGetLSN(BufferGetPage(buffer));
            UnlockReleaseBuffer(buffer);
            relation_close(rel, NoLock);
            XLogFlush(covering);
        });
    } catch (const PgException& e) {
        if (e.data()->sqlerrcode == ERRCODE_SEQUENCE_GENERATOR_LIMIT_EXCEEDED)
            throw_token_counter_used_up();
        throw;
    }
}

Token allocate_token(Token last) {
    std::int64_t epoch = token_epoch_now();
    std::int64_t counter = 0;
    reserve_counters(&counter, 1);
    return choose_token(compose_token(epoch, counter), last);
}

}  // namespace coord::pg

// coord.new_token(last): for SQL that hands out tokens itself (a task
// claim's UPDATE). Only the extension's owner may call it.
COORD_FUNCTION(coord_new_token) {
    coord::pg::Args args(fcinfo);
    return coord::pg::int64_datum(coord::pg::allocate_token(args.get_int64(0).value_or(0)));
}
