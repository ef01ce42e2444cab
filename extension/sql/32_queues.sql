-- Explicit queues (issue 12): a task is enqueued only into a queue created
-- with coord.queue_create; the queue carries its settings, whether it is
-- paused, the role that created it and the privileges it granted
-- (produce: enqueue; consume: claim and act on claims; observe: read tasks).
-- The functions have invoker rights; their SQL runs as the extension owner.

CREATE TABLE coord.queue_state (
    queue        text PRIMARY KEY,
    max_attempts integer NOT NULL,
    retention    interval NOT NULL,
    backoff_max  interval NOT NULL,
    notify       boolean NOT NULL,
    paused       boolean NOT NULL DEFAULT false,
    created_by   regrole NOT NULL,
    created_at   timestamptz NOT NULL
);
COMMENT ON TABLE coord.queue_state IS
    'One row per queue made with coord.queue_create: settings, paused, creator. Written only '
    'through the coord.queue_* functions; read it through coord.queues.';
SELECT pg_catalog.pg_extension_config_dump('coord.queue_state', '');

CREATE TABLE coord.queue_grants (
    queue      text NOT NULL,
    role       regrole NOT NULL,
    privilege  text NOT NULL,                     -- produce, consume or observe
    granted_by regrole NOT NULL,
    granted_at timestamptz NOT NULL,
    PRIMARY KEY (queue, privilege, role)
);
COMMENT ON TABLE coord.queue_grants IS
    'Privileges on a queue''s tasks granted with coord.queue_grant (produce, consume, observe). '
    'A role has a privilege when it has the privileges of a role granted it (membership with '
    'inherit), created the queue, or is coord_admin.';
SELECT pg_catalog.pg_extension_config_dump('coord.queue_grants', '');

-- The queues of tasks enqueued before queues were explicit (0.2), created by
-- the role of their first task (empty in a fresh install).
INSERT INTO coord.queue_state (queue, max_attempts, retention, backoff_max, notify, created_by,
                               created_at)
SELECT DISTINCT ON (q.queue) q.queue, 5, '7 days', '1 hour', true, q.enqueued_by,
       pg_catalog.clock_timestamp()
FROM (SELECT queue, id, enqueued_by FROM coord.tasks
      UNION ALL SELECT queue, id, enqueued_by FROM coord.tasks_complete) q
ORDER BY q.queue, q.id;

CREATE FUNCTION coord.queue_create(queue text, max_attempts integer DEFAULT 5,
                                   retention interval DEFAULT '7 days',
                                   backoff_max interval DEFAULT '1 hour',
                                   notify boolean DEFAULT true)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_queue_create'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.queue_create(text, integer, interval, interval, boolean) IS
    'Create a queue owned by the calling role: true when created, false when it already exists '
    'with the same settings (42710 when with other settings: use coord.queue_alter). '
    'max_attempts: attempts of a task before it is dead (1..1000); retention: how long completed '
    'tasks are kept; backoff_max: cap of the retry backoff; notify: NOTIFY coord_tasks when its '
    'tasks become due. The creator and coord_admin may alter, pause, drop it and grant it.';

CREATE FUNCTION coord.queue_alter(queue text, max_attempts integer DEFAULT NULL,
                                  retention interval DEFAULT NULL,
                                  backoff_max interval DEFAULT NULL,
                                  notify boolean DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_queue_alter'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.queue_alter(text, integer, interval, interval, boolean) IS
    'Change the settings given (NULL: unchanged) of a queue: true when one changed. Its creator '
    'or coord_admin only (42501); 42704 when the queue does not exist.';

CREATE FUNCTION coord.queue_drop(queue text, force boolean DEFAULT false)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_queue_drop'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.queue_drop(text, boolean) IS
    'Drop a queue with its tasks (completed and dead ones, their history) and grants: true. '
    'Refused (55006) while a task is pending or processing unless force. Its creator or '
    'coord_admin only (42501); 42704 when the queue does not exist.';

CREATE FUNCTION coord.queue_pause(queue text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_queue_pause'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.queue_pause(text) IS
    'Pause a queue: it still accepts tasks, claims return none until coord.queue_resume. True '
    'when it was running. Its creator or coord_admin only (42501).';

CREATE FUNCTION coord.queue_resume(queue text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_queue_resume'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.queue_resume(text) IS
    'Resume a paused queue: true when it was paused. Its creator or coord_admin only (42501).';

CREATE FUNCTION coord.queue_grant(queue text, role regrole, privilege text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_queue_grant'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.queue_grant(text, regrole, text) IS
    'Grant `role` a privilege on the tasks of a queue: produce (enqueue), consume (claim, and '
    'heartbeat/complete/fail/cancel its claims), observe (read its tasks and payloads with '
    'coord.task). True when newly granted. The queue''s creator or coord_admin only (42501).';

CREATE FUNCTION coord.queue_revoke(queue text, role regrole, privilege text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_queue_revoke'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.queue_revoke(text, regrole, text) IS
    'Revoke a privilege granted with coord.queue_grant: true when it was granted. Claims already '
    'taken stay their role''s. The queue''s creator or coord_admin only (42501).';

CREATE VIEW coord.queues AS
SELECT q.queue, q.max_attempts, q.retention, q.backoff_max, q.notify, q.paused, q.created_by,
       q.created_at,
       (SELECT count(*) FROM coord.tasks t WHERE t.queue = q.queue AND t.state = 'pending') AS pending,
       (SELECT count(*) FROM coord.tasks t WHERE t.queue = q.queue AND t.state = 'processing')
           AS processing,
       (SELECT count(*) FROM coord.tasks t WHERE t.queue = q.queue AND t.state = 'dead') AS dead,
       (SELECT count(*) FROM coord.tasks_complete c WHERE c.queue = q.queue) AS complete
FROM coord.queue_state q;
COMMENT ON VIEW coord.queues IS
    'Every queue: its settings, whether it is paused, who created it, and its task counts '
    '(pending, processing, dead, complete kept for its retention).';

REVOKE EXECUTE ON FUNCTION
    coord.queue_create(text, integer, interval, interval, boolean),
    coord.queue_alter(text, integer, interval, interval, boolean),
    coord.queue_drop(text, boolean),
    coord.queue_pause(text),
    coord.queue_resume(text),
    coord.queue_grant(text, regrole, text),
    coord.queue_revoke(text, regrole, text) FROM PUBLIC;
REVOKE ALL ON coord.queue_state, coord.queue_grants, coord.queues FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    coord.queue_create(text, integer, interval, interval, boolean),
    coord.queue_alter(text, integer, interval, interval, boolean),
    coord.queue_drop(text, boolean),
    coord.queue_pause(text),
    coord.queue_resume(text),
    coord.queue_grant(text, regrole, text),
    coord.queue_revoke(text, regrole, text) TO coord_user;
GRANT SELECT ON coord.queues TO coord_user;

-- Task actions (issue 12). Cancelled tasks stay in coord.tasks (state
-- cancelled, finished_at) as long as completed ones are kept; a dedupe_key
-- is held by pending and processing tasks only.
CREATE INDEX tasks_cancelled ON coord.tasks (finished_at) WHERE state = 'cancelled';

CREATE FUNCTION coord.cancel(task_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_cancel'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.cancel(bigint) IS
    'Cancel a pending or processing task: it becomes cancelled (terminal, kept like completed '
    'tasks) and a running worker''s claim token is stale (PC001 on its next heartbeat, complete, '
    'fail or snooze). True when cancelled; false when the task had already finished (complete, '
    'dead, cancelled). The role that enqueued it (or one with its privileges), a role with consume '
    'on its queue, or coord_admin (42501); 42704 for an unknown task.';

CREATE FUNCTION coord.snooze(task_id bigint, token bigint, run_in interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'coord_snooze'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.snooze(bigint, bigint, interval) IS
    'Put a claimed task back to pending, due after run_in (0 .. 3650 days), without counting the '
    'attempt; returns when it is due. The token is stale afterwards. PC001 when token is not the '
    'current claim; 42501 when the claim belongs to another role (unless coord_admin).';

CREATE FUNCTION coord.purge(queue text, state text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_purge'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.purge(text, text) IS
    'Administrators only (coord_admin): delete the tasks of a queue in one state (pending, dead, '
    'cancelled or complete) with their history; returns how many. 42704 when the queue does not '
    'exist.';

-- The tasks of the queues the caller may observe: its creator (or a role
-- with the creator's privileges), an observe grant, coord_admin. Read by an
-- invoker-rights function (the caller's role decides), so that no view
-- depends on the task tables' columns.
CREATE FUNCTION coord.queue_task_list()
RETURNS TABLE (id bigint, queue text, state text, priority integer, run_at timestamptz,
               attempts integer, max_attempts integer, worker text, claimed_at timestamptz,
               lease_expires_at timestamptz, last_error text, created_at timestamptz,
               finished_at timestamptz, payload jsonb)
AS 'MODULE_PATHNAME', 'coord_queue_task_list'
LANGUAGE C STABLE;
COMMENT ON FUNCTION coord.queue_task_list() IS
    'The rows of coord.queue_tasks: the tasks of the queues the calling role may observe.';
CREATE VIEW coord.queue_tasks AS SELECT * FROM coord.queue_task_list();
COMMENT ON VIEW coord.queue_tasks IS
    'The tasks (every state, payload included) of the queues the caller may observe: queues it '
    'created (or whose creator''s privileges it has), queues it was granted observe on '
    '(coord.queue_grant), every queue for coord_admin.';

REVOKE EXECUTE ON FUNCTION coord.cancel(bigint), coord.snooze(bigint, bigint, interval),
    coord.purge(text, text), coord.queue_task_list() FROM PUBLIC;
REVOKE ALL ON coord.queue_tasks FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.cancel(bigint), coord.snooze(bigint, bigint, interval) TO coord_user;
GRANT EXECUTE ON FUNCTION coord.purge(text, text) TO coord_admin;
GRANT EXECUTE ON FUNCTION coord.queue_task_list() TO coord_user;
GRANT SELECT ON coord.queue_tasks TO coord_user;

-- Monitoring: pg_monitor reads the queue counts (no payloads) without any
-- coord privilege.
GRANT USAGE ON SCHEMA coord TO pg_monitor;
GRANT SELECT ON coord.queue_stats, coord.queues TO pg_monitor;

-- Batches (issue 12): one call for many tasks.
CREATE FUNCTION coord.enqueue_many(queue text, payloads jsonb[], run_at timestamptz DEFAULT NULL,
                                   priority integer DEFAULT 0, dedupe_keys text[] DEFAULT NULL)
RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'coord_enqueue_many'
LANGUAGE C VOLATILE ROWS 100;
COMMENT ON FUNCTION coord.enqueue_many(text, jsonb[], timestamptz, integer, text[]) IS
    'Enqueue one task per element of payloads (1 .. 1000, no NULL: 22023) into `queue`, with the '
    'queue''s max_attempts; returns their ids in input order. dedupe_keys: one key per payload '
    '(as many, no NULL), each as enqueue''s dedupe_key. One NOTIFY coord_tasks for the batch.';

CREATE FUNCTION coord.complete_many(task_ids bigint[], tokens bigint[], results jsonb[] DEFAULT NULL)
RETURNS TABLE (task_id bigint, completed boolean)
AS 'MODULE_PATHNAME', 'coord_complete_many'
LANGUAGE C VOLATILE ROWS 10;
COMMENT ON FUNCTION coord.complete_many(bigint[], bigint[], jsonb[]) IS
    'coord.complete for each (task_id, token[, result]) in one call (1 .. 1000 elements, as many '
    'tokens and results as task_ids, no NULL: 22023): one row per task, completed false for a '
    'repeated completion. A stale token raises PC001 naming the task, and nothing of the batch '
    'is written.';

REVOKE EXECUTE ON FUNCTION coord.enqueue_many(text, jsonb[], timestamptz, integer, text[]),
    coord.complete_many(bigint[], bigint[], jsonb[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.enqueue_many(text, jsonb[], timestamptz, integer, text[]),
    coord.complete_many(bigint[], bigint[], jsonb[]) TO coord_user;
