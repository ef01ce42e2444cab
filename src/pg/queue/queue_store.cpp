#include "pg/queue/queue_store.hpp"
#include "pg/waiting/claim_waiting.hpp"

extern "C" {
#include "commands/async.h"
#include "utils/json.h"
}

#include <string>

namespace coord::pg {

std::optional<QueueInfo> load_queue(Spi& spi, std::string_view queue, QueuePrivilege privilege,
                                    Oid role) {
    static Statement look_up(
        "SELECT q.created_by, EXISTS (SELECT 1 FROM coord.queue_grants g "
        "         WHERE g.queue = q.queue AND g.privilege = $2 "
        "           AND pg_catalog.pg_has_role($3::pg_catalog.oid, g.role::pg_catalog.oid, 'USAGE')), "
        "       q.paused, q.max_attempts, q.notify "
        "FROM coord.queue_state q WHERE q.queue = $1",
        {TEXTOID, TEXTOID, REGROLEOID}, /*generic_plan=*/true);
    if (spi.run(look_up, {text_param(queue), text_param(to_string(privilege)), role_param(role)}) != 1)
        return std::nullopt;
    Row row = *spi.first_row();
    return QueueInfo{QueueAccess{*row.get_oid(1), row.get_boolean(2).value_or(false)},
                     row.get_boolean(3).value_or(false), row.get_int32(4).value_or(5),
                     row.get_boolean(5).value_or(true)};
}

QueueInfo require_queue_use(Spi& spi, std::string_view queue, QueuePrivilege privilege,
                            const Caller& caller, std::string_view action) {
    std::optional<QueueInfo> info = load_queue(spi, queue, privilege, caller.role());
    require_queue_exists(info ? std::optional<QueueAccess>(info->access) : std::nullopt, queue);
    require_queue_privilege(caller, info->access, queue, privilege, action);
    return *info;
}

void notify_queue(std::string_view queue) {
    std::string name(queue);
    pg_call([&] {
        StringInfoData buf;
        initStringInfo(&buf);
        appendStringInfoString(&buf, "{\"queue\": ");
        escape_json(&buf, name.c_str());
        appendStringInfoChar(&buf, '}');
        Async_Notify("coord_tasks", buf.data);
        pfree(buf.data);
    });
}

void announce_due(std::string_view queue, bool notify) {
    wake_claimers_at_commit(queue);
    if (notify) notify_queue(queue);
}

void announce_enqueued(std::string_view queue, bool notify, Micros run_at, Micros now) {
    if (run_at <= now) {
        wake_claimers_at_commit(queue);
        if (notify && !announce_by_worker_at_commit(run_at)) notify_queue(queue);
    } else
        note_task_due_at(run_at);
}

}  // namespace coord::pg
