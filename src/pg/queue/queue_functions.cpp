// SQL entry points of the explicit queues (extension/sql/32_queues.sql).
#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "core/queue/queue.hpp"
#include "core/queue/task.hpp"
#include "pg/common/calling_role.hpp"
#include "pg/common/datum.hpp"
#include "pg/metrics/metrics.hpp"
#include "pg/queue/queue_store.hpp"

#include <fmt/format.h>

using namespace coord;
using namespace coord::pg;

namespace {

// The queue's row, locked, for a change by its creator or coord_admin.
RoleId lock_managed_queue(Spi& spi, std::string_view queue, const Caller& caller,
                          std::string_view action) {
    static Statement lock("SELECT created_by FROM coord.queue_state WHERE queue = $1 FOR UPDATE",
                          {TEXTOID});
    std::optional<QueueAccess> access;
    if (spi.run(lock, {text_param(queue)}) == 1)
        access = QueueAccess{*spi.first_row()->get_oid(1), false};
    require_queue_exists(access, queue);
    require_queue_manager(caller, access->created_by, queue, action);
    return access->created_by;
}

coord::pg::Param interval_arg_param(const Args& args, int i) {
    return datum_param(INTERVALOID, args.get_datum(i));
}

bool set_paused(FunctionCallInfo fcinfo, bool paused) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    CallingRole caller;
    Spi spi;
    lock_managed_queue(spi, queue, caller, paused ? "pause" : "resume");
    static Statement set(
        "UPDATE coord.queue_state SET paused = $2 WHERE queue = $1 AND paused <> $2 RETURNING notify",
        {TEXTOID, BOOLOID});
    if (spi.run(set, {text_param(queue), bool_param(paused)}) != 1) return false;
    // Resumed: its due tasks can be claimed again; waiting workers hear it.
    if (!paused) announce_due(queue, spi.first_row()->get_boolean(1).value_or(false));
    return true;
}

}  // namespace

COORD_FUNCTION(coord_queue_create) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    auto max_attempts = require_queue_max_attempts(args.get_int32(1));
    require_retention(args.get_interval(2));
    require_backoff_max(args.get_interval(3));
    bool notify = require_notify(args.get_boolean(4));
    CallingRole caller;
    Spi spi;
    static Statement insert(
        "INSERT INTO coord.queue_state (queue, max_attempts, retention, backoff_max, notify, "
        "                               created_by, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.clock_timestamp()) "
        "ON CONFLICT (queue) DO NOTHING",
        {TEXTOID, INT4OID, INTERVALOID, INTERVALOID, BOOLOID, REGROLEOID});
    static Statement same(
        "SELECT max_attempts = $2 AND retention = $3 AND backoff_max = $4 AND notify = $5 "
        "FROM coord.queue_state WHERE queue = $1",
        {TEXTOID, INT4OID, INTERVALOID, INTERVALOID, BOOLOID});
    for (int round = 0; round < 3; ++round) {
        if (spi.run(insert, {text_param(queue), int32_param(max_attempts), interval_arg_param(args, 2),
                             interval_arg_param(args, 3), bool_param(notify),
                             role_param(caller.role())}) == 1)
            return BoolGetDatum(true);
        if (spi.run(same, {text_param(queue), int32_param(max_attempts), interval_arg_param(args, 2),
                           interval_arg_param(args, 3), bool_param(notify)}) == 1) {
            if (spi.first_row()->get_boolean(1).value_or(false)) return BoolGetDatum(false);
            throw Error(sqlstate::duplicate_object,
                        fmt::format("queue \"{}\" already exists with other settings", queue), {},
                        "Change its settings with coord.queue_alter, or see them in coord.queues.");
        }
    }
    throw Error(sqlstate::serialization_failure,
                fmt::format("queue \"{}\" kept changing during queue_create", queue));
}

COORD_FUNCTION(coord_queue_alter) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    std::optional<std::int32_t> max_attempts;
    if (!args.is_null(1)) max_attempts = require_queue_max_attempts(args.get_int32(1));
    if (!args.is_null(2)) require_retention(args.get_interval(2));
    if (!args.is_null(3)) require_backoff_max(args.get_interval(3));
    std::optional<bool> notify = args.get_boolean(4);
    CallingRole caller;
    Spi spi;
    lock_managed_queue(spi, queue, caller, "alter");
    static Statement alter(
        "UPDATE coord.queue_state SET max_attempts = COALESCE($2, max_attempts), "
        "       retention = COALESCE($3, retention), backoff_max = COALESCE($4, backoff_max), "
        "       notify = COALESCE($5, notify) "
        "WHERE queue = $1 AND (max_attempts, retention, backoff_max, notify) IS DISTINCT FROM "
        "      (COALESCE($2, max_attempts), COALESCE($3, retention), COALESCE($4, backoff_max), "
        "       COALESCE($5, notify))",
        {TEXTOID, INT4OID, INTERVALOID, INTERVALOID, BOOLOID});
    return BoolGetDatum(spi.run(alter, {text_param(queue), int32_param(max_attempts),
                                        interval_arg_param(args, 2), interval_arg_param(args, 3),
                                        bool_param(notify)}) == 1);
}

COORD_FUNCTION(coord_queue_drop) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    bool force = require_present(args.get_boolean(1), "force");
    CallingRole caller;
    Spi spi;
    lock_managed_queue(spi, queue, caller, "drop");
    static Statement unfinished(
        "SELECT count(*) FROM coord.tasks WHERE queue = $1 AND state IN ('pending', 'processing')",
        {TEXTOID});
    spi.run(unfinished, {text_param(queue)});
    std::int64_t open = spi.first_row()->get_int64(1).value_or(0);
    if (open > 0 && !force)
        throw Error(sqlstate::object_in_use,
                    fmt::format("cannot drop queue \"{}\": {} task(s) pending or processing", queue, open),
                    {}, "Wait for them to finish, cancel them, or pass force => true to delete them.");
    static Statement drop(
        "WITH t AS (DELETE FROM coord.tasks WHERE queue = $1 RETURNING id), "
        "c AS (DELETE FROM coord.tasks_complete WHERE queue = $1 RETURNING id), "
        "a AS (DELETE FROM coord.task_attempts WHERE task_id IN (SELECT id FROM t UNION ALL "
        "                                                       SELECT id FROM c)), "
        "g AS (DELETE FROM coord.queue_grants WHERE queue = $1), "
        "p AS (DELETE FROM coord.task_periods WHERE queue = $1) "
        "DELETE FROM coord.queue_state WHERE queue = $1",
        {TEXTOID});
    bool dropped = spi.run(drop, {text_param(queue)}) == 1;
    if (dropped) metrics::note_queue_dropped(queue);
    return BoolGetDatum(dropped);
}

COORD_FUNCTION(coord_queue_pause) { return BoolGetDatum(set_paused(fcinfo, true)); }
COORD_FUNCTION(coord_queue_resume) { return BoolGetDatum(set_paused(fcinfo, false)); }

COORD_FUNCTION(coord_queue_grant) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    Oid role = DatumGetObjectId(require_present(args.get_datum(1), "role"));
    QueuePrivilege privilege = require_queue_privilege_name(args.get_text(2));
    CallingRole caller;
    Spi spi;
    lock_managed_queue(spi, queue, caller, "grant on");
    static Statement grant(
        "INSERT INTO coord.queue_grants (queue, role, privilege, granted_by, granted_at) "
        "VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp()) ON CONFLICT DO NOTHING",
        {TEXTOID, REGROLEOID, TEXTOID, REGROLEOID});
    return BoolGetDatum(spi.run(grant, {text_param(queue), role_param(role),
                                        text_param(to_string(privilege)),
                                        role_param(caller.role())}) == 1);
}

COORD_FUNCTION(coord_queue_revoke) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    Oid role = DatumGetObjectId(require_present(args.get_datum(1), "role"));
    QueuePrivilege privilege = require_queue_privilege_name(args.get_text(2));
    CallingRole caller;
    Spi spi;
    lock_managed_queue(spi, queue, caller, "revoke on");
    static Statement revoke(
        "DELETE FROM coord.queue_grants WHERE queue = $1 AND role = $2 AND privilege = $3",
        {TEXTOID, REGROLEOID, TEXTOID});
    return BoolGetDatum(spi.run(revoke, {text_param(queue), role_param(role),
                                         text_param(to_string(privilege))}) == 1);
}

COORD_FUNCTION(coord_purge) {
    Args args(fcinfo);
    auto queue = require_queue_name(args.get_text(0));
    TaskState state = require_purge_state(args.get_text(1));
    Spi spi;
    static Statement exists("SELECT 1 FROM coord.queue_state WHERE queue = $1", {TEXTOID});
    require_queue_exists(spi.run(exists, {text_param(queue)}) == 1
                             ? std::optional<QueueAccess>(QueueAccess{InvalidOid, false})
                             : std::nullopt,
                         queue);
    static Statement purge_active(
        "WITH gone AS (DELETE FROM coord.tasks WHERE queue = $1 AND state = $2 RETURNING id), "
        "history AS (DELETE FROM coord.task_attempts a USING gone WHERE a.task_id = gone.id) "
        "SELECT count(*) FROM gone",
        {TEXTOID, TEXTOID});
    static Statement purge_complete(
        "WITH gone AS (DELETE FROM coord.tasks_complete WHERE queue = $1 RETURNING id), "
        "history AS (DELETE FROM coord.task_attempts a USING gone WHERE a.task_id = gone.id) "
        "SELECT count(*) FROM gone",
        {TEXTOID});
    if (state == TaskState::complete)
        spi.run(purge_complete, {text_param(queue)});
    else
        spi.run(purge_active, {text_param(queue), text_param(to_string(state))});
    std::int64_t purged = spi.first_row()->get_int64(1).value_or(0);
    metrics::note_tasks(queue,
                        state == TaskState::complete    ? metrics::TaskEvent::purged_complete
                        : state == TaskState::dead      ? metrics::TaskEvent::purged_dead
                        : state == TaskState::cancelled ? metrics::TaskEvent::purged_cancelled
                                                        : metrics::TaskEvent::purged_pending,
                        purged);
    return int64_datum(purged);
}
