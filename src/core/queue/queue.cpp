#include "core/queue/queue.hpp"

#include "core/common/error.hpp"
#include "core/common/validate.hpp"
#include "core/queue/task.hpp"

#include <fmt/format.h>

namespace coord {

const char* to_string(QueuePrivilege privilege) {
    switch (privilege) {
        case QueuePrivilege::produce: return "produce";
        case QueuePrivilege::consume: return "consume";
        case QueuePrivilege::observe: return "observe";
    }
    return "unknown";
}

QueuePrivilege require_queue_privilege_name(std::optional<std::string_view> privilege) {
    std::string_view text = require_present(privilege, "privilege");
    for (QueuePrivilege p : {QueuePrivilege::produce, QueuePrivilege::consume, QueuePrivilege::observe})
        if (text == to_string(p)) return p;
    throw Error(sqlstate::invalid_parameter_value,
                fmt::format("privilege must be produce, consume or observe, not \"{}\"",
                            text.substr(0, 64)));
}

std::int32_t require_queue_max_attempts(std::optional<std::int32_t> max_attempts) {
    return require_max_attempts(max_attempts);
}

Micros require_retention(std::optional<IntervalParts> retention) {
    return require_non_negative_duration(retention, "retention", kMaxQueueRetention);
}

Micros require_backoff_max(std::optional<IntervalParts> backoff_max) {
    return require_duration(backoff_max, "backoff_max", kMaxQueueBackoff);
}

bool require_notify(std::optional<bool> notify) { return require_present(notify, "notify"); }

void require_queue_exists(const std::optional<QueueAccess>& queue, std::string_view name) {
    if (queue) return;
    throw Error(sqlstate::undefined_object, fmt::format("queue \"{}\" does not exist", name), {},
                fmt::format("Create it first: SELECT coord.queue_create('{}');", name));
}

bool may_use_queue(const Caller& caller, const QueueAccess& queue) {
    return queue.granted || queue.created_by == caller.role() ||
           caller.has_privileges_of(queue.created_by) || caller.is_admin();
}

void require_queue_privilege(const Caller& caller, const QueueAccess& queue, std::string_view name,
                             QueuePrivilege privilege, std::string_view action) {
    if (may_use_queue(caller, queue)) return;
    throw Error(sqlstate::insufficient_privilege,
                fmt::format("permission denied to {} queue \"{}\"", action, name),
                fmt::format("Queue \"{}\" was created by {}; this call runs as {} and has no {} grant "
                            "on it.",
                            name, describe_role(caller, queue.created_by),
                            describe_role(caller, caller.role()), to_string(privilege)),
                fmt::format("Its creator or a member of coord_admin can grant it: SELECT "
                            "coord.queue_grant('{}', '<role>', '{}');",
                            name, to_string(privilege)));
}

void require_queue_manager(const Caller& caller, RoleId created_by, std::string_view name,
                           std::string_view action) {
    std::string subject = fmt::format("queue \"{}\"", name);
    require_may_act(caller, action, RoleBound{subject, "was created by", created_by});
}

}  // namespace coord
