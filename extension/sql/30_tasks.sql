-- Durable task queue with claim leases (pending -> processing -> complete |
-- pending again | dead), attempt history, and its sweep steps.
--
-- The task functions have invoker rights (as the lease functions,
-- 10_leases.sql): a task's payload belongs to the role that enqueued it, a
-- claim to the role that claimed; their SQL runs as the extension owner.
--
-- Hot path: coord.tasks holds only unfinished tasks (pending, processing) and
-- dead ones. A completed task moves to coord.tasks_complete in the transaction
-- that completes it, and is pruned from there after coord.completed_retention.
-- Claims use coord.tasks_due, a partial index of pending tasks only, so
-- neither the index nor the table a claim reads grows with history.

CREATE TABLE coord.tasks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            text NOT NULL,
    state            text NOT NULL,                 -- pending, processing or dead
    payload          jsonb NOT NULL,
    priority         integer NOT NULL,
    run_at           timestamptz NOT NULL,          -- pending: earliest start
    attempts         integer NOT NULL DEFAULT 0,    -- attempts started
    max_attempts     integer NOT NULL,
    dedupe_key       text,
    token            bigint NOT NULL DEFAULT 0,     -- the current (or last) claim's token
    worker           text,                          -- processing: the claimant
    execution_id     uuid,                          -- processing: the current attempt
    claimed_at       timestamptz,
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL,
    finished_at      timestamptz,                   -- dead: when
    last_error       text,
    -- Roles (regrole: see coord.lease_state). Who may read the task (payload,
    -- result, errors) follows from enqueued_by; only claimed_by (or
    -- coord_admin) may heartbeat, complete or fail the claim.
    enqueued_by      regrole NOT NULL,
    claimed_by       regrole                        -- processing: the claimant's role
    -- No CHECK constraints: PostgreSQL re-parses them for every statement that
    -- writes a row, and only the coord.* functions (which enforce the rules in
    -- src/core/queue/task.hpp) write here. Claimed fields are set exactly while
    -- state = 'processing'.
) WITH (fillfactor = 80,
       -- Every claimed task leaves a dead entry at the front of tasks_due until
       -- vacuumed, and claims scan past them: vacuum this table early and fast.
       autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
       autovacuum_vacuum_cost_delay = 1);
-- Claims: due pending tasks of a queue, highest priority first, then oldest.
CREATE INDEX tasks_due ON coord.tasks (queue, priority DESC, run_at, id) WHERE state = 'pending';
-- The sweep: expired and long-running claims.
CREATE INDEX tasks_processing ON coord.tasks (lease_expires_at) WHERE state = 'processing';
CREATE INDEX tasks_dead ON coord.tasks (id) WHERE state = 'dead';
-- At most one unfinished task per (queue, dedupe_key).
CREATE UNIQUE INDEX tasks_dedupe ON coord.tasks (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('pending', 'processing');
COMMENT ON TABLE coord.tasks IS
    'Unfinished tasks (pending, processing) and dead-lettered ones. Completed tasks move to '
    'coord.tasks_complete. Written only through the coord.* task functions and the sweep.';
SELECT pg_catalog.pg_extension_config_dump('coord.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('coord.tasks_id_seq', '');

CREATE TABLE coord.tasks_complete (
    id           bigint PRIMARY KEY,
    queue        text NOT NULL,
    payload      jsonb NOT NULL,
    priority     integer NOT NULL,
    attempts     integer NOT NULL,
    max_attempts integer NOT NULL,
    dedupe_key   text,
    token        bigint NOT NULL,                  -- the claim that completed it
    created_at   timestamptz NOT NULL,
    completed_at timestamptz NOT NULL,
    -- The completing attempt (the earlier ones are in coord.task_attempts).
    execution_id uuid NOT NULL,
    worker       text NOT NULL,
    started_at   timestamptz NOT NULL,
    result       jsonb,
    enqueued_by  regrole NOT NULL,
    claimed_by   regrole NOT NULL                   -- the completing claim's role
);
-- Completion times only grow: a BRIN index finds what to prune at almost no
-- cost per completion.
CREATE INDEX tasks_complete_completed_at ON coord.tasks_complete USING brin (completed_at)
    WITH (autosummarize = on);
COMMENT ON TABLE coord.tasks_complete IS
    'Completed tasks, moved out of coord.tasks when completed, with the completing attempt '
    '(execution_id, worker, started_at, result); pruned by the sweep after '
    'coord.completed_retention (default 7 days), together with their earlier attempts.';
SELECT pg_catalog.pg_extension_config_dump('coord.tasks_complete', '');

CREATE TABLE coord.task_attempts (
    task_id      bigint NOT NULL,
    attempt      integer NOT NULL,
    token        bigint NOT NULL,
    execution_id uuid NOT NULL,
    worker       text NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    outcome      text NOT NULL,                    -- failed or expired
    error        text,
    result       jsonb,
    PRIMARY KEY (task_id, attempt)
);
COMMENT ON TABLE coord.task_attempts IS
    'One row per failed attempt (failed, or expired: the claim ran out and the sweep requeued '
    'the task). The attempt in progress is in coord.tasks, the completing one in '
    'coord.tasks_complete; coord.task() shows them all. Kept as long as the task.';
SELECT pg_catalog.pg_extension_config_dump('coord.task_attempts', '');

-- dedupe_for (issue 12): one row per (queue, dedupe_key) whose period runs;
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

CREATE FUNCTION coord.heartbeat(task_id bigint, token bigint, ttl interval DEFAULT '10 minutes')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'coord_heartbeat'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.heartbeat(bigint, bigint, interval) IS
    'Extend the claim `token` of a task to now + ttl; returns the new expiry. PC001 '
    '(lease_lost) when the claim was lost (requeued after it expired, or finished); 42501 when the '
    'claim belongs to another role (unless the caller is coord_admin).';

CREATE FUNCTION coord.complete(task_id bigint, token bigint, result jsonb DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_complete'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.complete(bigint, bigint, jsonb) IS
    'Mark the task complete under claim `token`, keeping `result` in its attempt history: true. '
    'Repeating the same completion returns false and changes nothing. PC001 (lease_lost) when '
    'token is not the task''s current claim; 42501 when the claim belongs to another role (unless '
    'the caller is coord_admin). Call it in the transaction of the task''s own writes so that they '
    'commit together.';

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

CREATE FUNCTION coord.retry_dead(task_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_retry_dead'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.retry_dead(bigint) IS
    'Administrators only (coord_admin): make a dead task pending again, due now, with one more '
    'attempt if its attempts were used up. True when a dead task was revived; false when the task '
    'is not dead. PC003 when another unfinished task of the queue has the same dedupe_key.';

CREATE FUNCTION coord.task_record(task_id bigint)
RETURNS TABLE (id bigint, queue text, state text, payload jsonb, priority integer,
               run_at timestamptz, attempts integer, max_attempts integer, dedupe_key text,
               token bigint, worker text, execution_id uuid, claimed_at timestamptz,
               lease_expires_at timestamptz, created_at timestamptz, finished_at timestamptz,
               last_error text, result jsonb, attempt_history jsonb,
               enqueued_by regrole, claimed_by regrole)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH ended AS (
        SELECT a.attempt, a.execution_id, a.worker, a.token, a.started_at, a.ended_at,
               a.outcome, a.error, NULL::jsonb AS result
        FROM coord.task_attempts a WHERE a.task_id = task_record.task_id
        UNION ALL
        SELECT c.attempts, c.execution_id, c.worker, c.token, c.started_at, c.completed_at,
               'complete', NULL, c.result
        FROM coord.tasks_complete c WHERE c.id = task_record.task_id
        UNION ALL
        SELECT p.attempts, p.execution_id, p.worker, p.token, p.claimed_at, NULL,
               'running', NULL, NULL
        FROM coord.tasks p WHERE p.id = task_record.task_id AND p.state = 'processing'
    ), history AS (
        SELECT COALESCE(jsonb_agg(jsonb_build_object(
                   'attempt', e.attempt, 'execution_id', e.execution_id, 'worker', e.worker,
                   'token', e.token, 'started_at', e.started_at, 'ended_at', e.ended_at,
                   'outcome', e.outcome, 'error', e.error, 'result', e.result)
                   ORDER BY e.attempt), '[]'::jsonb) AS attempts
        FROM ended e
    )
    SELECT t.id, t.queue, t.state, t.payload, t.priority, t.run_at, t.attempts, t.max_attempts,
           t.dedupe_key, t.token, t.worker, t.execution_id, t.claimed_at, t.lease_expires_at,
           t.created_at, t.finished_at, t.last_error, NULL::jsonb, h.attempts, t.enqueued_by,
           t.claimed_by
    FROM coord.tasks t, history h WHERE t.id = task_record.task_id
    UNION ALL
    SELECT c.id, c.queue, 'complete', c.payload, c.priority, NULL, c.attempts, c.max_attempts,
           c.dedupe_key, c.token, c.worker, c.execution_id, c.started_at, NULL, c.created_at,
           c.completed_at, NULL, c.result, h.attempts, c.enqueued_by, c.claimed_by
    FROM coord.tasks_complete c, history h WHERE c.id = task_record.task_id;
END
$$;
COMMENT ON FUNCTION coord.task_record(bigint) IS
    'Internal: the record coord.task() returns, with the roles that decide who may read it. Not '
    'granted to anyone; coord.task() runs it as the extension owner.';

CREATE FUNCTION coord.task(task_id bigint)
RETURNS TABLE (id bigint, queue text, state text, payload jsonb, priority integer,
               run_at timestamptz, attempts integer, max_attempts integer, dedupe_key text,
               token bigint, worker text, execution_id uuid, claimed_at timestamptz,
               lease_expires_at timestamptz, created_at timestamptz, finished_at timestamptz,
               last_error text, result jsonb, attempt_history jsonb)
AS 'MODULE_PATHNAME', 'coord_task'
LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION coord.task(bigint) IS
    'The whole record of a task, whatever its state (no row if it never existed or was pruned): '
    'its fields, the result of the attempt that completed it, and attempt_history, a JSON array '
    'of every attempt (attempt, execution_id, worker, token, started_at, ended_at, outcome '
    '[running, complete, failed, expired], error, result). 42501 unless the caller has the '
    'privileges of the role that enqueued the task, is the role of its current or completing claim, '
    'or is coord_admin.';

CREATE VIEW coord.queue_stats AS
WITH settings AS (
    SELECT pg_catalog.clock_timestamp() AS now,
           COALESCE(pg_catalog.current_setting('coord.task_stuck_alert_after', true), '30min')::interval
               AS stuck_after
), active AS (
    SELECT t.queue,
           count(*) FILTER (WHERE t.state = 'pending') AS pending,
           count(*) FILTER (WHERE t.state = 'pending' AND t.run_at <= s.now) AS due,
           count(*) FILTER (WHERE t.state = 'processing') AS processing,
           count(*) FILTER (WHERE t.state = 'dead') AS dead,
           s.now - min(t.run_at) FILTER (WHERE t.state = 'pending' AND t.run_at <= s.now)
               AS oldest_due_age,
           count(*) FILTER (WHERE t.state = 'processing' AND t.claimed_at < s.now - s.stuck_after)
               AS stuck_processing
    FROM coord.tasks t CROSS JOIN settings s
    GROUP BY t.queue, s.now
), done AS (
    SELECT c.queue, count(*) AS complete FROM coord.tasks_complete c GROUP BY c.queue
)
SELECT COALESCE(a.queue, d.queue) AS queue,
       COALESCE(a.pending, 0) AS pending,
       COALESCE(a.due, 0) AS due,
       COALESCE(a.processing, 0) AS processing,
       COALESCE(d.complete, 0) AS complete,
       COALESCE(a.dead, 0) AS dead,
       a.oldest_due_age,
       COALESCE(a.stuck_processing, 0) AS stuck_processing
FROM active a FULL JOIN done d ON d.queue = a.queue;
COMMENT ON VIEW coord.queue_stats IS
    'Per queue: pending tasks, due ones (pending and run_at reached), processing, complete (kept '
    'for coord.completed_retention), dead, the age of the oldest due task, and processing tasks '
    'claimed longer ago than coord.task_stuck_alert_after.';

GRANT EXECUTE ON FUNCTION
    coord.enqueue(text, jsonb, timestamptz, integer, integer, text, interval, interval),
    coord.claim(text, text, interval, integer, interval),
    coord.claim(text[], text, interval, integer, interval),
    coord.heartbeat(bigint, bigint, interval),
    coord.complete(bigint, bigint, jsonb),
    coord.fail(bigint, bigint, text, interval, boolean),
    coord.task(bigint) TO coord_user;
GRANT EXECUTE ON FUNCTION coord.retry_dead(bigint) TO coord_admin;
GRANT SELECT ON coord.queue_stats TO coord_user;
