// Explicit queues: their settings, their grants and who may change them.
// A task can only be enqueued into a queue created with coord.queue_create;
// a queue belongs to the role that created it, which (with coord_admin) may
// alter, pause, drop it and grant its privileges to other roles.
#pragma once
#include "core/common/cpp_only.hpp"

#include "core/common/roles.hpp"
#include "core/common/time.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace coord {

inline constexpr Micros kMaxQueueRetention = 3650 * kMicrosPerDay;
inline constexpr Micros kMaxQueueBackoff = 30 * kMicrosPerDay;

// What a role may do with a queue's tasks (coord.queue_grant).
enum class QueuePrivilege { produce, consume, observe };
const char* to_string(QueuePrivilege privilege);
// 22004 for NULL, 22023 naming the three privileges otherwise.
QueuePrivilege require_queue_privilege_name(std::optional<std::string_view> privilege);

struct QueueSettings {
    std::int32_t max_attempts;
    Micros retention;    // completed tasks are kept this long
    Micros backoff_max;  // cap of the retry backoff
    bool notify;         // NOTIFY coord_tasks when tasks become due
};

// Argument checks of queue_create and queue_alter (22004 / 22023 naming the
// parameter): max_attempts 1..1000, retention 0..3650 days, backoff_max
// more than 0 and at most 30 days.
std::int32_t require_queue_max_attempts(std::optional<std::int32_t> max_attempts);
Micros require_retention(std::optional<IntervalParts> retention);
Micros require_backoff_max(std::optional<IntervalParts> backoff_max);
bool require_notify(std::optional<bool> notify);

// A queue as the glue read it: its creator and whether the caller holds a
// grant of the privilege asked for (directly or through a role it inherits).
struct QueueAccess {
    RoleId created_by;
    bool granted;
};

// 42704 naming coord.queue_create in its hint when the queue does not exist.
void require_queue_exists(const std::optional<QueueAccess>& queue, std::string_view name);

// Using a queue's tasks needs the privilege: the creator (or a role with its
// privileges) and coord_admin have every privilege; others need a grant.
// 42501 otherwise; `action` is for the message ("enqueue into").
bool may_use_queue(const Caller& caller, const QueueAccess& queue);
void require_queue_privilege(const Caller& caller, const QueueAccess& queue, std::string_view name,
                             QueuePrivilege privilege, std::string_view action);

// Altering, pausing, dropping and granting: the creator or coord_admin.
void require_queue_manager(const Caller& caller, RoleId created_by, std::string_view name,
                           std::string_view action);

}  // namespace coord
