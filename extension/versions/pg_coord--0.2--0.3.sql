-- pg_coord 0.2 -> 0.3. Each issue's changes are in a section of their own;
-- edit only your issue's section (and keep the blank lines between them).

-- issue 11: waiting redesigned (deadlock detection over every holding)
-- coord.waiters shows every column of coord.waiting_requests() (wait_until
-- was dropped); CREATE OR REPLACE keeps its grants.
CREATE OR REPLACE VIEW coord.waiters AS
SELECT name, owner, waiting_since, "position", pid, wait_until
FROM coord.waiting_requests();
COMMENT ON VIEW coord.waiters IS
    'Who waits for which lease: owner, since when, place in the FIFO queue of that name (1 = next '
    'to be served), the backend pid (for pg_cancel_backend) and when the wait runs out (wait_until).';
-- coord.wait_graph shows every edge the detector uses (also uncommitted
-- holdings and queued-ahead requests) with its kind and the backends; the
-- five columns of 0.2 stay first (CREATE OR REPLACE keeps its grants).
CREATE FUNCTION coord.wait_edges()
RETURNS TABLE (waiter text, name text, holder text, waiting_since timestamptz, edge text, kind text,
               waiter_pid integer, holder_pid integer)
AS 'MODULE_PATHNAME', 'coord_wait_edges'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.wait_edges() IS
    'Every edge the deadlock detector of this database uses, computed now from shared memory and the '
    'lease rows. Use the view coord.wait_graph.';
REVOKE ALL ON FUNCTION coord.wait_edges() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.wait_edges() TO coord_user;
CREATE OR REPLACE VIEW coord.wait_graph AS
SELECT waiter, name, holder, waiting_since, edge, kind, waiter_pid, holder_pid
FROM coord.wait_edges();
COMMENT ON VIEW coord.wait_graph IS
    'Every edge the deadlock detector uses: the request of owner waiter (backend waiter_pid) waiting '
    'for lease name cannot be served before holder lets go. kind = committed: holder holds it '
    '(committed, live; any session acting as that owner may release it, holder_pid NULL); '
    'uncommitted: the open transaction of backend holder_pid is writing the name''s lease row (an '
    'uncommitted acquire, hand-off or release; holder is the owner that session acts as); queued: '
    'the request of holder_pid is queued ahead (FIFO serves it first). edge = held or queued, as in '
    'coord.deadlocks.cycle. A cycle is reported only when no member can make progress (README, '
    '"Deadlocks: the rule").';
-- (end of issue 11)


-- issue 12: task queue surface (queues, grants, wake-ups, batches, metrics)
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

-- claim(wait_for) and claim(queues text[], ...): claims return queue,
-- max_attempts and lease_expires_at too. The return type changes, so the
-- one-queue form is dropped and created again (nothing in the extension
-- depends on it); fresh installs get both in 30_tasks.sql.
DROP FUNCTION coord.claim(text, text, interval, integer);
CREATE FUNCTION coord.claim(queue text, worker text, ttl interval DEFAULT '10 minutes',
                            batch integer DEFAULT 1, wait_for interval DEFAULT '0')
RETURNS TABLE (task_id bigint, queue text, payload jsonb, attempt integer, max_attempts integer,
               token bigint, execution_id uuid, lease_expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_claim'
LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION coord.claim(text, text, interval, integer, interval) IS
    'Claim up to `batch` due tasks of `queue` (consume privilege; 42704 for an unknown queue) for '
    '`worker` until now + ttl (lease_expires_at): highest priority first, then oldest. Never gives '
    'a task to two claimants; concurrent claimers skip each other''s rows instead of waiting. '
    'attempt = max_attempts is the last one. wait_for (0 .. 1 day): when nothing is due, sleep '
    'until a task of the queue becomes due (woken when the transaction that made it due commits, '
    'not polled) or the wait runs out (no rows); a paused queue returns none. Pass task_id and '
    'token to heartbeat, complete or fail, as the same role: the claims belong to it.';

CREATE FUNCTION coord.claim(queues text[], worker text, ttl interval DEFAULT '10 minutes',
                            batch integer DEFAULT 1, wait_for interval DEFAULT '0')
RETURNS TABLE (task_id bigint, queue text, payload jsonb, attempt integer, max_attempts integer,
               token bigint, execution_id uuid, lease_expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_claim_queues'
LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION coord.claim(text[], text, interval, integer, interval) IS
    'coord.claim over several queues (1 .. 1000 names, no NULL: 22023; each must exist, 42704, '
    'and allow consume, 42501): the best `batch` due tasks of them all (highest priority first, '
    'then oldest), paused queues skipped; wait_for as for one queue, woken by any of them.';

REVOKE EXECUTE ON FUNCTION coord.claim(text, text, interval, integer, interval),
    coord.claim(text[], text, interval, integer, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.claim(text, text, interval, integer, interval),
    coord.claim(text[], text, interval, integer, interval) TO coord_user;

-- fail(retry => false), and a dedupe_key held by pending and processing
-- tasks only (not by cancelled ones): fresh installs get them in 30_tasks.sql.
DROP INDEX coord.tasks_dedupe;
CREATE UNIQUE INDEX tasks_dedupe ON coord.tasks (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'processing');
DROP FUNCTION coord.fail(bigint, bigint, text, interval);
CREATE FUNCTION coord.fail(task_id bigint, token bigint, error text, retry_in interval DEFAULT NULL,
                           retry boolean DEFAULT true)
RETURNS text
AS 'MODULE_PATHNAME', 'coord_fail'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.fail(bigint, bigint, text, interval, boolean) IS
    'Record a failed attempt under claim `token` and return the new state: pending (again after '
    'retry_in, or by default after exponential backoff with jitter: 1 s doubling per attempt, '
    'capped at the queue''s backoff_max) or dead once max_attempts attempts were made, or at once '
    'with retry => false (a permanent failure). PC001 when token is not the current claim; 42501 '
    'when the claim belongs to another role (unless the caller is coord_admin).';
REVOKE EXECUTE ON FUNCTION coord.fail(bigint, bigint, text, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.fail(bigint, bigint, text, interval, boolean) TO coord_user;

-- enqueue(run_in, dedupe_for, max_attempts DEFAULT NULL: the queue's): fresh installs get
-- it in 30_tasks.sql.-- dedupe_for (issue 12): one row per (queue, dedupe_key) whose period runs;
-- the sweep deletes ended periods.
CREATE TABLE coord.task_periods (
    queue      text NOT NULL,
    dedupe_key text NOT NULL,
    task_id    bigint,                              -- the task that began the period
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (queue, dedupe_key)
);
COMMENT ON TABLE coord.task_periods IS
    'Periods of coord.enqueue(dedupe_key, dedupe_for): while one runs (until expires_at), an '
    'enqueue with that key returns task_id and adds nothing. Pruned by the sweep once ended.';
SELECT pg_catalog.pg_extension_config_dump('coord.task_periods', '');
REVOKE ALL ON coord.task_periods FROM PUBLIC;

DROP FUNCTION coord.enqueue(text, jsonb, timestamptz, integer, integer, text);
CREATE FUNCTION coord.enqueue(queue text, payload jsonb, run_at timestamptz DEFAULT NULL,
                              priority integer DEFAULT 0, max_attempts integer DEFAULT NULL,
                              dedupe_key text DEFAULT NULL, run_in interval DEFAULT NULL,
                              dedupe_for interval DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_enqueue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.enqueue(text, jsonb, timestamptz, integer, integer, text, interval, interval) IS
    'Add a task to `queue` (made with coord.queue_create: 42704 otherwise; produce privilege) and '
    'return its id; the task''s payload belongs to the calling role (see coord.task). run_at: '
    'earliest start (default now), or run_in: after this interval (not both); priority: higher '
    'first; max_attempts: attempts before dead-lettering (default: the queue''s). With '
    'dedupe_key, while a task of the queue with that key is pending or processing, its id is '
    'returned and nothing is added; with dedupe_for too (1 microsecond .. 3650 days), the key '
    'also blocks new tasks until dedupe_for after the first was created, even once it finished '
    '(once per period: its id is returned). NOTIFY coord_tasks {"queue": ...} when the task is '
    'due at once and the queue has notify (one per queue per transaction).';
REVOKE EXECUTE ON FUNCTION coord.enqueue(text, jsonb, timestamptz, integer, integer, text, interval, interval)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.enqueue(text, jsonb, timestamptz, integer, integer, text, interval, interval)
    TO coord_user;
-- Per-queue retention replaces coord.completed_retention: the queues of a
-- 0.2 install keep the retention that was in force.
UPDATE coord.queue_state
SET retention = COALESCE(pg_catalog.current_setting('coord.completed_retention', true), '7 days')::interval;

-- Metrics (issue 12): counters and per-queue gauges kept in shared memory
-- (src/pg/metrics), so that coord.metrics() and coord.queue_stats answer
-- without counting the task tables; pg_monitor reads them without any coord
-- privilege.
CREATE FUNCTION coord.metrics()
RETURNS TABLE (metric text, labels jsonb, value double precision)
AS 'MODULE_PATHNAME', 'coord_metrics'
LANGUAGE C VOLATILE ROWS 50;
COMMENT ON FUNCTION coord.metrics() IS
    'Prometheus-style metrics of this server: counters that only go up while it runs '
    '(coord_tasks_{enqueued,completed,failed,dead,cancelled}_total per queue, '
    'coord_lease_acquisitions_total, coord_lease_takeovers_total, coord_fence_rejections_total, '
    'coord_deadlocks_total, coord_sweeps_total, coord_sweeps_failed_total; counted when their '
    'transaction commits) and gauges (coord_tasks_pending, coord_tasks_due, '
    'coord_tasks_processing, coord_tasks_retained{state} per queue, once coord_gauges_valid is 1; '
    'coord_last_sweep_timestamp_seconds, coord_last_sweep_duration_seconds, coord_lease_waiters). '
    'Read from shared memory (55000 without pg_coord in shared_preload_libraries).';

CREATE FUNCTION coord.queue_stats_rows()
RETURNS TABLE (queue text, pending bigint, due bigint, processing bigint, complete bigint,
               dead bigint, oldest_due_age interval, stuck_processing bigint)
AS 'MODULE_PATHNAME', 'coord_queue_stats_rows'
LANGUAGE C VOLATILE ROWS 10;
COMMENT ON FUNCTION coord.queue_stats_rows() IS
    'The rows of coord.queue_stats: from the shared-memory gauges once the background worker '
    'counted the tables after the server started, else counted from the tables.';

CREATE OR REPLACE VIEW coord.queue_stats AS SELECT * FROM coord.queue_stats_rows();
COMMENT ON VIEW coord.queue_stats IS
    'Per queue: pending tasks, due ones (pending and run_at reached, as of the last sweep for '
    'tasks scheduled ahead), processing, complete (kept for the queue''s retention), dead, the age '
    'of the oldest due task, and processing tasks claimed longer ago than '
    'coord.task_stuck_alert_after. From shared memory (no count of the tables) once the '
    'background worker counted them after the server started.';

CREATE OR REPLACE VIEW coord.queues AS
SELECT q.queue, q.max_attempts, q.retention, q.backoff_max, q.notify, q.paused, q.created_by,
       q.created_at, COALESCE(s.pending, 0) AS pending, COALESCE(s.processing, 0) AS processing,
       COALESCE(s.dead, 0) AS dead, COALESCE(s.complete, 0) AS complete
FROM coord.queue_state q LEFT JOIN coord.queue_stats_rows() s ON s.queue = q.queue;

REVOKE EXECUTE ON FUNCTION coord.metrics(), coord.queue_stats_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.metrics(), coord.queue_stats_rows() TO coord_user, pg_monitor;

-- release_all (issue 12): what a deadlock victim does, in one call.
CREATE FUNCTION coord.release_all(owner text)
RETURNS integer
AS 'MODULE_PATHNAME', 'coord_release_all'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.release_all(text) IS
    'Release every lease `owner` holds now under the calling role (durable and memory holdings; '
    'each as coord.release: a waiter is handed the lease or woken). Returns how many. Holdings of '
    'the same owner string taken by another role are left alone (also for coord_admin: use '
    'coord.force_release). The call for a deadlock victim (40P01) before it retries its job.';
REVOKE EXECUTE ON FUNCTION coord.release_all(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.release_all(text) TO coord_user;
-- (end of issue 12)


-- issue 14: high availability, faults, bad input, privileges
-- A task_dead alert no longer carries the task's last error (every coord_user
-- reads coord.alerts; the error is for the roles that may read the task):
-- open alerts raised by 0.2 lose it too. Data only; a fresh install has none.
UPDATE coord.alerts SET detail = detail - 'last_error' WHERE kind = 'task_dead' AND detail ? 'last_error';
-- NOTIFY coord_alerts payloads name the alert only (any role can LISTEN).
COMMENT ON TABLE coord.alerts IS
    'Alerts raised by the sweep (background worker or coord.sweep()): kind (lease_held_too_long, '
    'task_stuck, task_dead, ...), subject (the lease name, task id, ...), detail, when raised and '
    'when resolved (NULL while open). At most one open alert per (kind, subject); an alert resolves '
    'itself when its condition ends. Each raise and resolve is also sent as NOTIFY coord_alerts '
    'with a JSON payload of event, id, kind, raised_at and resolved_at only (any role that can '
    'connect can LISTEN: subject and detail are read here) and written to the server log.';
-- (end of issue 14)


-- issue 15: collaborative update logs and whiteboard shape maps
-- Collaborative documents (a durable per-document update log with causal
-- delivery, snapshots and pruning) and whiteboards (a last-writer-wins map of
-- shapes and fields). Any coord_user may append to and read every document
-- and board: they are not per role (like queues); the role is recorded with
-- each update and snapshot.

CREATE TABLE coord.doc_updates (
    doc         text COLLATE "C" NOT NULL,
    client      text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,          -- 1, 2, 3 ... per (doc, client)
    position    bigint,                   -- from coord.doc_position once delivered; NULL while held
    deps        jsonb,                    -- the state vector it depends on, as given
    payload     bytea NOT NULL,           -- opaque (a Yjs or Automerge update)
    appended_by regrole NOT NULL,
    appended_at timestamptz NOT NULL,
    PRIMARY KEY (doc, client, seq)
);
CREATE UNIQUE INDEX doc_updates_position ON coord.doc_updates (doc, position);
CREATE INDEX doc_updates_held ON coord.doc_updates (doc) WHERE position IS NULL;
COMMENT ON TABLE coord.doc_updates IS
    'Every stored update of every document: delivered (with a position, which orders each update '
    'after its dependencies) or held (position NULL) until its dependencies are delivered. Written '
    'only through coord.doc_append; covered updates are pruned by the background worker.';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_updates', '');

CREATE SEQUENCE coord.doc_position;
COMMENT ON SEQUENCE coord.doc_position IS
    'Positions of delivered document updates (one sequence for every document).';

CREATE TABLE coord.doc_clients (
    doc      text COLLATE "C" NOT NULL,
    client   text COLLATE "C" NOT NULL,
    first_at timestamptz NOT NULL,
    PRIMARY KEY (doc, client)
);
COMMENT ON TABLE coord.doc_clients IS
    'The clients that ever appended to a document (at most 10000 per document), and when first.';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_clients', '');

CREATE TABLE coord.doc_snapshots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc          text COLLATE "C" NOT NULL,
    state_vector jsonb NOT NULL,          -- what the snapshot covers
    covers       bigint NOT NULL,         -- the number of updates it covers
    snapshot     bytea NOT NULL,
    created_by   regrole NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX doc_snapshots_doc ON coord.doc_snapshots (doc, id);
COMMENT ON TABLE coord.doc_snapshots IS
    'Merged document states uploaded by clients (coord.doc_snapshot); each covers the one before it. '
    'The newest is what coord.doc_load hands a joining client.';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_snapshots', '');

CREATE TABLE coord.doc_pruned (
    doc              text COLLATE "C" PRIMARY KEY,
    vector           jsonb NOT NULL,      -- per client, the highest seq pruned
    through_snapshot bigint NOT NULL      -- the snapshot (coord.doc_snapshots.id) last pruned by
);
COMMENT ON TABLE coord.doc_pruned IS
    'Per document and client, the highest seq the background worker pruned: coord.doc_since refuses '
    'a state vector behind it (55000; join with coord.doc_load); and the snapshot it pruned by last '
    '(each snapshot is pruned by once).';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_pruned', '');

CREATE UNLOGGED TABLE coord.doc_announce (
    doc      text COLLATE "C" NOT NULL,
    position bigint NOT NULL
);
COMMENT ON TABLE coord.doc_announce IS
    'Deliveries not yet announced: the background worker sends one NOTIFY coord_doc per document '
    'for them each sweep and deletes them. Unlogged: an announcement lost in a crash is only a '
    'missed wake-up (clients catch up with coord.doc_since).';

CREATE FUNCTION coord.doc_append(doc text, client text, seq bigint, payload bytea, deps jsonb DEFAULT NULL)
RETURNS TABLE(accepted boolean, "position" bigint, state text)
AS 'MODULE_PATHNAME', 'coord_doc_append'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.doc_append(text, text, bigint, bytea, jsonb) IS
    'Store update `seq` (1, 2, 3 ... per doc and client) of `client` in document `doc`. A resend of '
    'a stored seq with the same payload changes nothing (accepted = false, same position); another '
    'payload is PC002; a seq beyond the next is PC003 naming the expected seq. The update depends on '
    '`deps` ({"client": seq, ...}) and on its client''s previous seq: until those are delivered it '
    'is held (state = ''held'', position NULL); then it is delivered with a position after theirs. '
    'payload: at most 1 MiB.';

CREATE FUNCTION coord.doc_snapshot(doc text, state_vector jsonb, snapshot bytea)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_doc_snapshot'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.doc_snapshot(text, jsonb, bytea) IS
    'Upload a merged state of `doc` covering `state_vector` (every update it names must be delivered, '
    'and it must cover the previous snapshot). Returns the snapshot''s id. The updates it covers '
    'become prunable after coord.doc_retention. snapshot: at most 256 MiB.';

-- The readers: SQL, run as the extension's owner with a pinned search_path.
CREATE FUNCTION coord.doc_require_vector(v jsonb, param text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad text;
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', param USING ERRCODE = '22004';
    END IF;
    IF jsonb_typeof(v) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object {"client": seq, ...}', param USING ERRCODE = '22023';
    END IF;
    SELECT e.key INTO bad FROM jsonb_each(v) e
    WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text !~ '^[0-9]+$'
       OR length(e.value::text) > 18 OR octet_length(e.key) NOT BETWEEN 1 AND 256
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%: the seq of client "%" must be an integer >= 0', param, bad
            USING ERRCODE = '22023';
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION coord.doc_require_vector(jsonb, text) IS
    'Internal: checks a state vector argument (22004 / 22023). Not granted to anyone.';

CREATE FUNCTION coord.doc_require_name(v text, param text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', param USING ERRCODE = '22004';
    END IF;
    IF octet_length(v) NOT BETWEEN 1 AND 256 THEN
        RAISE EXCEPTION '% must have 1 to 256 bytes', param USING ERRCODE = '22023';
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION coord.doc_require_name(text, text) IS
    'Internal: checks a document or board name argument (22004 / 22023). Not granted to anyone.';

CREATE FUNCTION coord.doc_state_vector(doc text)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(jsonb_object_agg(x.client, x.seq), '{}')
    FROM (SELECT u.client, max(u.seq) AS seq FROM coord.doc_updates u
          WHERE u.doc = coord.doc_require_name($1, 'doc') AND u.position IS NOT NULL
          GROUP BY u.client) x
$$;
COMMENT ON FUNCTION coord.doc_state_vector(text) IS
    'The state vector of `doc`: {"client": last delivered seq, ...} ({} for an unknown document).';

-- What a reader with `have` lacks, in position order. A reader that has
-- nothing reads the log in position order; one that has something (a
-- snapshot's vector) reads, per client, only the seqs after its own
-- (primary-key ranges: OFFSET 0 keeps the planner from joining the whole
-- log instead), so a join after a snapshot reads what it lacks, not the
-- whole log. `have` is read once (jsonb_each_text): a snapshot's vector is
-- stored compressed, and `have ->> client` per client would decompress it
-- once per client.
CREATE FUNCTION coord.doc_updates_after(d text, have jsonb)
RETURNS TABLE(client text, seq bigint, "position" bigint, payload bytea)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM jsonb_each_text(have) e WHERE e.value::bigint > 0) THEN
        RETURN QUERY
            SELECT u.client::text, u.seq, u.position, u.payload FROM coord.doc_updates u
            WHERE u.doc = d AND u.position IS NOT NULL
            ORDER BY u.position;
    ELSE
        RETURN QUERY
            SELECT u.client::text, u.seq, u.position, u.payload
            FROM coord.doc_clients c
            LEFT JOIN jsonb_each_text(have) h ON h.key = c.client
            CROSS JOIN LATERAL (
                SELECT u.client, u.seq, u.position, u.payload FROM coord.doc_updates u
                WHERE u.doc = d AND u.client = c.client
                  AND u.seq > COALESCE(h.value::bigint, 0) AND u.position IS NOT NULL
                OFFSET 0) u
            WHERE c.doc = d
            ORDER BY u.position;
    END IF;
END
$$;
COMMENT ON FUNCTION coord.doc_updates_after(text, jsonb) IS
    'Internal: the delivered updates of document `d` after state vector `have`, in position order '
    '(coord.doc_since, coord.doc_load). Not granted to anyone.';

CREATE FUNCTION coord.doc_since(doc text, state_vector jsonb DEFAULT '{}')
RETURNS TABLE(client text, seq bigint, "position" bigint, payload bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    d text := coord.doc_require_name(doc, 'doc');
    have jsonb := coord.doc_require_vector(state_vector, 'state_vector');
    behind text;
BEGIN
    SELECT v.key INTO behind FROM coord.doc_pruned p, jsonb_each_text(p.vector) v
    WHERE p.doc = d AND v.value::bigint > COALESCE((have ->> v.key)::bigint, 0) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'updates of client "%" in document "%" that state_vector lacks were pruned', behind, d
            USING ERRCODE = '55000', HINT = 'Join again with coord.doc_load.';
    END IF;
    RETURN QUERY SELECT * FROM coord.doc_updates_after(d, have);
END
$$;
COMMENT ON FUNCTION coord.doc_since(text, jsonb) IS
    'Every delivered update of `doc` that a reader with `state_vector` lacks, in position order (an '
    'update comes after everything it depends on). 55000 when some of them were pruned: join with '
    'coord.doc_load.';

CREATE FUNCTION coord.doc_load(doc text)
RETURNS TABLE(snapshot bytea, snapshot_vector jsonb, client text, seq bigint, "position" bigint, payload bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    d text := coord.doc_require_name(doc, 'doc');
    snap_id bigint;
    have jsonb;
BEGIN
    -- The snapshot itself is not read into a variable (that would detoast
    -- and copy it here): the row goes to the result as stored, and is read
    -- once, when it is sent to the client.
    SELECT s.id, s.state_vector INTO snap_id, have FROM coord.doc_snapshots s
    WHERE s.doc = d ORDER BY s.id DESC LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT s.snapshot, s.state_vector, NULL::text, NULL::bigint, NULL::bigint, NULL::bytea
                     FROM coord.doc_snapshots s WHERE s.id = snap_id;
    ELSE
        have := '{}';
    END IF;
    RETURN QUERY
        SELECT NULL::bytea, NULL::jsonb, u.client, u.seq, u.position, u.payload
        FROM coord.doc_updates_after(d, have) u;
END
$$;
COMMENT ON FUNCTION coord.doc_load(text) IS
    'What a client joining `doc` needs: a first row with the newest snapshot and its state vector '
    '(when there is one; update columns NULL), then every delivered update after it, in position '
    'order (snapshot columns NULL).';

CREATE VIEW coord.docs AS
SELECT u.doc::text AS doc,
       (SELECT count(*) FROM coord.doc_clients c WHERE c.doc = u.doc) AS clients,
       count(*) AS updates,
       count(*) FILTER (WHERE u.position IS NULL) AS held,
       sum(octet_length(u.payload)) AS bytes,
       (SELECT max(s.created_at) FROM coord.doc_snapshots s WHERE s.doc = u.doc) AS last_snapshot_at,
       max(u.position) AS last_position
FROM coord.doc_updates u
GROUP BY u.doc;
COMMENT ON VIEW coord.docs IS
    'One row per document: clients that ever appended, updates stored (delivered and held), held '
    'updates, payload bytes stored, when the newest snapshot was uploaded and the last position.';

-- Whiteboards.
CREATE TABLE coord.shapes (
    board      text COLLATE "C" NOT NULL,
    shape      text COLLATE "C" NOT NULL,
    fields     jsonb NOT NULL,           -- the merged fields ({} once deleted)
    writers    jsonb NOT NULL,           -- per field, its writer: [lamport, "client"]
    deleted    boolean NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (board, shape)
);
COMMENT ON TABLE coord.shapes IS
    'Every shape of every whiteboard: its fields merged by last writer wins (Lamport time, then the '
    'smaller client id), each field''s writer, and whether it was deleted (final). Written only '
    'through coord.shape_apply, coord.shape_delete and coord.shape_apply_batch.';
SELECT pg_catalog.pg_extension_config_dump('coord.shapes', '');

CREATE FUNCTION coord.shape_apply(board text, shape text, client text, lamport bigint, fields jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'coord_shape_apply'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.shape_apply(text, text, text, bigint, jsonb) IS
    'Merge `fields` into `shape` of `board` field by field: a field takes the new value when '
    '(lamport, client) orders after its current writer (a higher Lamport time wins, equal times go '
    'to the smaller client id). Fields not named are untouched. Returns the merged fields, NULL '
    'when the shape is deleted (a deleted shape ignores writes). fields: an object of at most 256 '
    'fields and 64 KiB.';

CREATE FUNCTION coord.shape_delete(board text, shape text, client text, lamport bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_shape_delete'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.shape_delete(text, text, text, bigint) IS
    'Delete `shape` of `board`: true for the first delete, false (already deleted) for every later '
    'one. A deleted shape has no fields and ignores later writes.';

CREATE FUNCTION coord.shape_apply_batch(board text, ops jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'coord_shape_apply_batch'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.shape_apply_batch(text, jsonb) IS
    'Apply a client''s batch atomically: ops is an array of at most 1000 '
    '{"shape", "client", "lamport", "fields"} or {"shape", "client", "lamport", "delete": true}; '
    'a bad op refuses the whole batch (22023). Returns how many ops changed the board.';

CREATE FUNCTION coord.board(board text)
RETURNS TABLE(shape text, fields jsonb, deleted boolean)
AS 'MODULE_PATHNAME', 'coord_board'
LANGUAGE C STABLE;
COMMENT ON FUNCTION coord.board(text) IS
    'Every shape of `board` in name order: its merged fields (NULL once deleted) and whether it is deleted.';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.doc_updates, coord.doc_clients, coord.doc_snapshots, coord.doc_pruned,
    coord.doc_announce, coord.shapes, coord.docs FROM PUBLIC;
REVOKE ALL ON SEQUENCE coord.doc_position, coord.doc_snapshots_id_seq FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.doc_append(text, text, bigint, bytea, jsonb),
    coord.doc_snapshot(text, jsonb, bytea), coord.doc_require_vector(jsonb, text),
    coord.doc_require_name(text, text), coord.doc_updates_after(text, jsonb),
    coord.doc_state_vector(text), coord.doc_since(text, jsonb),
    coord.doc_load(text), coord.shape_apply(text, text, text, bigint, jsonb),
    coord.shape_delete(text, text, text, bigint), coord.shape_apply_batch(text, jsonb),
    coord.board(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.doc_append(text, text, bigint, bytea, jsonb),
    coord.doc_snapshot(text, jsonb, bytea), coord.doc_state_vector(text), coord.doc_since(text, jsonb),
    coord.doc_load(text), coord.shape_apply(text, text, text, bigint, jsonb),
    coord.shape_delete(text, text, text, bigint), coord.shape_apply_batch(text, jsonb),
    coord.board(text) TO coord_user;
GRANT SELECT ON coord.docs TO coord_user;
-- (end of issue 15)


-- issue 16: memory leases
-- coord.acquire gains `durable boolean DEFAULT true` (a new signature: dropped
-- and created again, with its comment and grant); coord.leases gains `durable`.
DROP FUNCTION coord.acquire(text, text, interval, interval);
CREATE FUNCTION coord.acquire(name text, owner text, ttl interval DEFAULT '1 hour',
                              wait_for interval DEFAULT '0', durable boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_acquire'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.acquire(text, text, interval, interval, boolean) IS
    'Take the lease `name` for `owner` until now + ttl. Returns the fencing token, or NULL while '
    'another owner holds an unexpired lease (or, with wait_for > 0, when the wait ran out). Called '
    'again by the holder (the same owner, called by the role that took the holding; 42501 for '
    'another role) it returns the same token and extends the expiry; a new holding always '
    'gets a larger token than any before it. With wait_for > 0 it queues and waits (FIFO, woken '
    'when the lease is released or expires; 40P01 when chosen as a deadlock victim); a newcomer '
    'never takes a lease others are queued for. Waiting needs shared_preload_libraries = pg_coord. '
    'durable => false takes a memory holding: kept in shared memory (no WAL, no transaction id), '
    'gone after a restart, crash or failover, its token still larger than every earlier one; at '
    'most coord.memory_leases at once (53400 beyond); needs shared_preload_libraries = pg_coord. '
    'A name held in the other kind is busy as any held name.';

CREATE FUNCTION coord.memory_lease_holdings()
RETURNS TABLE (name text, owner text, holder_role regrole, token bigint,
               acquired_at timestamptz, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_memory_lease_holdings'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.memory_lease_holdings() IS
    'The memory holdings (coord.acquire(..., durable => false)) of this database, live or expired, '
    'as coord.leases shows them: token NULL unless the holding is the caller''s role''s or the '
    'caller is coord_admin. No rows without shared_preload_libraries = pg_coord.';

-- CURRENT_USER and pg_has_role are the reader's, not the view owner's.
CREATE OR REPLACE VIEW coord.leases AS
SELECT l.name,
       l.owner,
       l.holder_role,
       CASE WHEN reader.is_admin OR l.holder_role OPERATOR(pg_catalog.=) reader.role
            THEN l.token END AS token,
       l.acquired_at,
       l.expires_at,
       -- Never negative, also after the server clock stepped back behind acquired_at.
       GREATEST(LEAST(pg_catalog.clock_timestamp(), l.expires_at) - l.acquired_at, interval '0')
           AS held_for,
       l.expires_at <= pg_catalog.clock_timestamp() AS expired,
       l.durable
FROM (SELECT s.name, s.owner, s.holder_role, s.token, s.acquired_at, s.expires_at, true AS durable
      FROM coord.lease_state s
      WHERE s.owner IS NOT NULL
      UNION ALL
      SELECT m.name, m.owner, m.holder_role, m.token, m.acquired_at, m.expires_at, false
      FROM coord.memory_lease_holdings() m) l,
     (SELECT (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)::pg_catalog.regrole AS role,
             pg_catalog.pg_has_role('coord_admin', 'USAGE') AS is_admin) reader;
COMMENT ON VIEW coord.leases IS
    'Leases with a holder: owner, the role that took the holding, fencing token (NULL unless the '
    'holding is the reader''s role''s, or the reader is coord_admin), when acquired and until when, '
    'how long held so far, whether the holding has expired (an expired lease is free for the '
    'next acquire), and whether it is durable (coord.lease_state) or a memory holding (false).';

REVOKE EXECUTE ON FUNCTION coord.acquire(text, text, interval, interval, boolean),
    coord.memory_lease_holdings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.acquire(text, text, interval, interval, boolean),
    coord.memory_lease_holdings() TO coord_user;
-- coord.acquire_all gains `durable boolean DEFAULT true` (as coord.acquire).
DROP FUNCTION coord.acquire_all(text[], text, interval, interval);
CREATE FUNCTION coord.acquire_all(names text[], owner text, ttl interval DEFAULT '1 hour',
                                  wait_for interval DEFAULT '0', durable boolean DEFAULT true)
RETURNS TABLE (name text, token bigint)
AS 'MODULE_PATHNAME', 'coord_acquire_all'
LANGUAGE C VOLATILE;  -- invoker rights, as coord.acquire (10_leases.sql)
COMMENT ON FUNCTION coord.acquire_all(text[], text, interval, interval, boolean) IS
    'Take every lease in `names` for `owner`, all or nothing: one row (name, token) per distinct '
    'name in canonical (sorted) order, or no row when they could not all be taken (within wait_for); '
    '42501 when the owner already holds one of them under another role. '
    'It never holds part of the set while it waits, and takes the rows in one canonical order, so two '
    'acquire_all calls cannot deadlock each other. At most 100 names. '
    'durable => false takes memory holdings (as coord.acquire(..., durable => false)), all at once; '
    'a name held durably is busy then. A refused set may use up tokens (never handed out again).';
REVOKE EXECUTE ON FUNCTION coord.acquire_all(text[], text, interval, interval, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.acquire_all(text[], text, interval, interval, boolean) TO coord_user;
-- (end of issue 16)
