-- The task queue: every function, its results and its error paths (each
-- error shows its SQLSTATE, then that nothing changed).
-- Tokens are shown counted from here (regress.tok, sql/setup.sql);
-- regress.claim_token(id) is a task's current (or last) claim token.
SELECT regress.count_tokens_from_here();
CREATE VIEW regress.task_rows AS
SELECT id, queue, state, attempts, max_attempts, token, worker, dedupe_key, priority
FROM coord.tasks
UNION ALL
SELECT id, queue, 'complete', attempts, max_attempts, token, NULL, dedupe_key, priority
FROM coord.tasks_complete;
CREATE FUNCTION regress.state_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(t::text, ';' ORDER BY t.id) FROM coord.tasks t), '') ||
               COALESCE((SELECT string_agg(c::text, ';' ORDER BY c.id) FROM coord.tasks_complete c), '') ||
               COALESCE((SELECT string_agg(a::text, ';' ORDER BY a.task_id, a.attempt)
                         FROM coord.task_attempts a), ''))
$$;
CREATE FUNCTION regress.claim_token(task_id bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT token FROM regress.task_rows WHERE id = task_id $$;

-- Queues are explicit: enqueue into a queue that was never created is 42704
-- naming coord.queue_create (sql/queues.sql shows the queue functions).
SELECT regress.error_of($$SELECT coord.enqueue('mail', '{}')$$) AS missing_queue;
SELECT count(*) AS tasks FROM coord.tasks;
SELECT bool_and(coord.queue_create(q)) AS created
FROM unnest(ARRAY['mail', 'reports', 'fragile', 'dd', 'direct', 'rollback']) q;

-- enqueue: ids, defaults.
SELECT coord.enqueue('mail', '{"to": "a@example.com"}') AS first_id;
SELECT coord.enqueue(queue => 'mail', payload => '{"to": "b@example.com"}', priority => 10) AS high_priority;
SELECT coord.enqueue('mail', '{"to": "c@example.com"}', run_at => clock_timestamp() + interval '1 hour') AS later;
SELECT coord.enqueue('reports', '"monthly"', max_attempts => 1) AS other_queue;
SELECT id, queue, state, attempts, max_attempts, token, priority FROM regress.task_rows ORDER BY id;
SELECT run_at <= clock_timestamp() AS due_now, created_at <= clock_timestamp() AS created
FROM coord.tasks WHERE id = 1;

-- dedupe_key: while the task is unfinished, the same key returns its id.
SELECT coord.enqueue('mail', '{"n": 1}', dedupe_key => 'welcome:42') AS deduped_first;
SELECT coord.enqueue('mail', '{"n": 2}', dedupe_key => 'welcome:42') AS deduped_again;
-- The same key in another queue is another task.
SELECT coord.enqueue('reports', '{}', dedupe_key => 'welcome:42') AS other_queue_same_key;
SELECT id, queue, dedupe_key, payload FROM coord.tasks WHERE dedupe_key IS NOT NULL ORDER BY id;

-- enqueue errors: nothing enqueued.
SELECT regress.state_digest() AS digest \gset
SELECT regress.error_of($$SELECT coord.enqueue(NULL, '{}')$$);
SELECT regress.error_of($$SELECT coord.enqueue('', '{}')$$);
SELECT regress.error_of(format('SELECT coord.enqueue(%L, %L)', repeat('q', 129), '{}'));
SELECT regress.error_of($$SELECT coord.enqueue('mail', NULL)$$);
SELECT regress.error_of($$SELECT coord.enqueue('mail', jsonb_build_object('x', repeat('x', 1100000)))$$);
SELECT regress.error_of($$SELECT coord.enqueue('mail', '{}', priority => NULL)$$);
SELECT regress.error_of($$SELECT coord.enqueue('mail', '{}', max_attempts => 0)$$);
SELECT regress.error_of($$SELECT coord.enqueue('mail', '{}', max_attempts => 1001)$$);
-- (max_attempts => NULL is the queue's max_attempts since issue 12: sql/task_batches.sql.)
SELECT regress.error_of($$SELECT coord.enqueue('mail', '{}', dedupe_key => '')$$);
SELECT regress.error_of(format('SELECT coord.enqueue(%L, %L, dedupe_key => %L)', 'mail', '{}', repeat('k', 257)));
SELECT regress.error_of($$SELECT coord.enqueue('mail', '{}', run_at => clock_timestamp() + interval '3651 days')$$);
SELECT regress.state_digest() = :'digest' AS unchanged;

-- claim: highest priority first, then oldest; not before run_at; one queue.
SELECT task_id, payload, attempt, regress.tok(token) AS token, execution_id IS NOT NULL AS has_execution_id
FROM coord.claim('mail', 'worker-1', batch => 2);
SELECT id, state, worker, attempts, regress.tok(token) AS token, lease_expires_at - claimed_at AS lease
FROM coord.tasks WHERE state = 'processing' ORDER BY id;
-- The next claim gets the dedupe task (the one due at 1 hour is not due).
SELECT task_id, payload, attempt, regress.tok(token) AS token
FROM coord.claim('mail', 'worker-2', ttl => '30 seconds', batch => 10);
SELECT count(*) AS nothing_left FROM coord.claim('mail', 'worker-3');
SELECT regress.error_of($$SELECT * FROM coord.claim('no-such-queue', 'worker-3')$$) AS unknown_queue;
-- Each claim has its own execution_id.
SELECT count(DISTINCT execution_id) = count(*) AS distinct_executions FROM coord.tasks
WHERE state = 'processing';

-- claim errors: nothing claimed.
SELECT regress.state_digest() AS digest \gset
SELECT regress.error_of($$SELECT * FROM coord.claim(NULL, 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', '')$$);
SELECT regress.error_of(format('SELECT * FROM coord.claim(%L, %L)', 'reports', repeat('w', 257)));
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', 'w', ttl => '0 seconds')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', 'w', ttl => '-1 second')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', 'w', ttl => '8 days')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', 'w', ttl => NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', 'w', batch => 0)$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', 'w', batch => 1001)$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('reports', 'w', batch => NULL)$$);
SELECT regress.state_digest() = :'digest' AS unchanged;

-- heartbeat: extends the claim; the current claim only.
SELECT coord.heartbeat(2, regress.claim_token(2), '1 hour') - clock_timestamp() BETWEEN interval '59 minutes' AND interval '1 hour'
    AS extended_by_an_hour;
SELECT lease_expires_at - clock_timestamp() > interval '59 minutes' AS stored FROM coord.tasks WHERE id = 2;
SELECT regress.state_digest() AS digest \gset
SELECT regress.error_of($$SELECT coord.heartbeat(2, 7)$$);
SELECT regress.error_of($$SELECT coord.heartbeat(4, 1)$$);
SELECT regress.error_of($$SELECT coord.heartbeat(999999, 1)$$);
SELECT regress.error_of($$SELECT coord.heartbeat(NULL, 1)$$);
SELECT regress.error_of($$SELECT coord.heartbeat(2, NULL)$$);
SELECT regress.error_of($$SELECT coord.heartbeat(2, 1, '0 seconds')$$);
SELECT regress.error_of($$SELECT coord.heartbeat(2, 1, NULL)$$);
SELECT regress.state_digest() = :'digest' AS unchanged;

-- complete: true once; the same completion again is false and changes nothing.
SELECT coord.complete(2, regress.claim_token(2), '{"sent": true}') AS completed;
SELECT regress.state_digest() AS digest \gset
SELECT coord.complete(2, regress.claim_token(2), '{"sent": true}') AS completed_again;
SELECT coord.complete(2, regress.claim_token(2)) AS completed_again_without_result;
SELECT regress.state_digest() = :'digest' AS unchanged;
SELECT id, queue, state, attempts, regress.tok(token) AS token FROM regress.task_rows WHERE id = 2;
SELECT count(*) AS left_hot_table FROM coord.tasks WHERE id = 2;
-- complete errors: wrong token, not processing, unknown, NULLs, result too large.
SELECT regress.error_of($$SELECT coord.complete(2, 2)$$);
SELECT regress.error_of($$SELECT coord.complete(4, 1)$$);
SELECT regress.error_of($$SELECT coord.complete(1, 2)$$);
SELECT regress.error_of($$SELECT coord.complete(999999, 1)$$);
SELECT regress.error_of($$SELECT coord.complete(NULL, 1)$$);
SELECT regress.error_of($$SELECT coord.complete(1, NULL)$$);
SELECT regress.error_of($$SELECT coord.complete(1, 1, jsonb_build_object('x', repeat('x', 1100000)))$$);
SELECT regress.state_digest() = :'digest' AS unchanged;

-- fail: pending again after retry_in, or after backoff (attempt 1: 0.5 s to 1 s).
SELECT coord.fail(1, regress.claim_token(1), 'smtp timeout', retry_in => '5 minutes') AS state_after_retry_in;
SELECT state, attempts, regress.tok(token) AS token, worker IS NULL AS unclaimed, last_error,
       run_at - clock_timestamp() BETWEEN interval '4 minutes 59 seconds' AND interval '5 minutes' AS due_in_5_min
FROM coord.tasks WHERE id = 1;
SELECT coord.fail(5, regress.claim_token(5), 'smtp timeout') AS state_after_backoff;
SELECT run_at - (SELECT ended_at FROM coord.task_attempts WHERE task_id = 5 AND attempt = 1)
       BETWEEN interval '0.5 seconds' AND interval '1 second' AS backoff_within_jitter_bounds
FROM coord.tasks WHERE id = 5;
-- A very long error text is kept, truncated to 8192 bytes.
SELECT task_id FROM coord.claim('reports', 'worker-r');
SELECT coord.fail(4, regress.claim_token(4), repeat('é', 10000)) AS state_at_max_attempts;
SELECT state, attempts, octet_length(last_error) <= 8192 AS truncated,
       last_error LIKE '%... [truncated]' AS marked, finished_at IS NOT NULL AS died_at_set
FROM coord.tasks WHERE id = 4;
SELECT regress.state_digest() AS digest \gset
SELECT regress.error_of($$SELECT coord.fail(1, regress.claim_token(1), 'again')$$);
SELECT regress.error_of($$SELECT coord.fail(4, regress.claim_token(4), 'again')$$);
SELECT regress.error_of($$SELECT coord.fail(2, regress.claim_token(2), 'after complete')$$);
SELECT regress.error_of($$SELECT coord.fail(999999, 1, 'x')$$);
SELECT regress.error_of($$SELECT coord.fail(NULL, 1, 'x')$$);
SELECT regress.error_of($$SELECT coord.fail(1, NULL, 'x')$$);
SELECT regress.error_of($$SELECT coord.fail(1, 1, NULL)$$);
SELECT regress.error_of($$SELECT coord.fail(1, 1, '')$$);
SELECT regress.error_of($$SELECT coord.fail(1, 1, 'x', retry_in => '-1 second')$$);
SELECT regress.error_of($$SELECT coord.fail(1, 1, 'x', retry_in => '31 days')$$);
SELECT regress.state_digest() = :'digest' AS unchanged;

-- coord.task: the whole record with every attempt.
SELECT id, queue, state, payload, attempts, regress.tok(token) AS token, result,
       jsonb_array_length(attempt_history) AS attempts_recorded,
       attempt_history -> 0 ->> 'outcome' AS outcome, attempt_history -> 0 ->> 'worker' AS worker,
       attempt_history -> 0 -> 'result' AS attempt_result,
       (attempt_history -> 0 ->> 'execution_id')::uuid IS NOT NULL AS has_execution_id
FROM coord.task(2);
SELECT id, state, attempts, jsonb_path_query_array(attempt_history, '$[*].outcome') AS outcomes,
       jsonb_path_query_array(attempt_history, '$[*].error') AS errors
FROM coord.task(1);
-- A running attempt shows as "running" (task 5 made due at once).
UPDATE coord.tasks SET run_at = clock_timestamp() - interval '1 second' WHERE id = 5;
SELECT task_id FROM coord.claim('mail', 'worker-4', batch => 10);
SELECT id, state, worker, jsonb_path_query_array(attempt_history, '$[*].outcome') AS outcomes,
       attempt_history -> -1 ->> 'worker' AS running_worker
FROM coord.task(5);
SELECT count(*) AS unknown_task FROM coord.task(999999);
SELECT regress.error_of($$SELECT * FROM coord.task(NULL)$$);

-- The sweep requeues an expired claim (attempt counted, history kept) and
-- dead-letters it at max_attempts; a late completion then gets PC001.
UPDATE coord.tasks SET run_at = clock_timestamp() - interval '1 second' WHERE id = 1;
SELECT task_id, attempt, regress.tok(token) AS token FROM coord.claim('mail', 'worker-5', ttl => '1 microsecond');
SELECT coord.sweep() -> 'tasks_requeued' AS requeued;
SELECT id, state, attempts, regress.tok(token) AS token, worker, last_error LIKE 'claim expired at %(worker worker-5)' AS expired_error
FROM coord.tasks WHERE id = 1;
SELECT jsonb_path_query_array(attempt_history, '$[*].outcome') AS outcomes FROM coord.task(1);
SELECT regress.error_of($$SELECT coord.complete(1, regress.claim_token(1))$$);
-- An unexpired claim is left alone by the sweep.
SELECT coord.sweep() -> 'tasks_requeued' AS requeued_none;
SELECT state FROM coord.tasks WHERE id = 5;

-- Dead-lettering by the sweep, the task_dead alert, retry_dead.
SELECT coord.enqueue('fragile', '{}', max_attempts => 1) AS fragile_id \gset
SELECT task_id, attempt FROM coord.claim('fragile', 'worker-6', ttl => '1 microsecond');
WITH s AS (SELECT coord.sweep() AS r)
SELECT r -> 'tasks_dead_lettered' AS dead_lettered, r -> 'task_dead_raised' AS dead_alerts_raised FROM s;
SELECT state, attempts FROM coord.tasks WHERE id = :fragile_id;
SELECT kind, subject::bigint IN (4, :fragile_id) AS known_subject, detail ->> 'queue' AS queue,
       resolved_at IS NULL AS open
FROM coord.alerts WHERE kind = 'task_dead' ORDER BY subject::bigint;
-- Sweeping again raises nothing new.
SELECT coord.sweep() -> 'task_dead_raised' AS raised_again;
-- retry_dead: coord_admin only (42501 for coord_user), true for a dead task.
SET ROLE coord_user;
SELECT regress.error_of(format('SELECT coord.retry_dead(%s)', :fragile_id));
RESET ROLE;
SET ROLE coord_admin;
SELECT coord.retry_dead(:fragile_id) AS revived;
SELECT coord.retry_dead(:fragile_id) AS revived_again;
SELECT coord.retry_dead(5) AS not_dead;
SELECT coord.retry_dead(999999) AS unknown;
SELECT regress.error_of($$SELECT coord.retry_dead(NULL)$$);
RESET ROLE;
SELECT state, attempts, max_attempts, finished_at IS NULL AS alive FROM coord.tasks WHERE id = :fragile_id;
-- Its alert resolves at the next sweep; task 4 is still dead, its alert stays.
SELECT coord.sweep() -> 'task_dead_resolved' AS resolved;
SELECT subject::bigint = :fragile_id AS is_fragile, resolved_at IS NULL AS open
FROM coord.alerts WHERE kind = 'task_dead' ORDER BY id;
-- retry_dead refuses to create a second unfinished task with one dedupe_key.
SELECT coord.enqueue('dd', '{}', max_attempts => 1, dedupe_key => 'once') AS dd_id \gset
SELECT task_id FROM coord.claim('dd', 'worker-7');
SELECT coord.fail(:dd_id, regress.claim_token(:dd_id), 'broken') AS dd_state;
SELECT coord.enqueue('dd', '{}', dedupe_key => 'once') <> :dd_id AS new_task_for_key;
SELECT regress.error_of(format('SELECT coord.retry_dead(%s)', :dd_id));
SELECT state FROM coord.tasks WHERE id = :dd_id;

-- task_stuck: processing longer than coord.task_stuck_alert_after.
SET coord.task_stuck_alert_after = '1h';
UPDATE coord.tasks SET claimed_at = claimed_at - interval '2 hours' WHERE id = 5;
WITH s AS (SELECT coord.sweep() AS r) SELECT r -> 'task_stuck_raised' AS stuck_raised FROM s;
SELECT subject, detail ->> 'worker' AS worker, detail ->> 'queue' AS queue
FROM coord.alerts WHERE kind = 'task_stuck' AND resolved_at IS NULL;
SELECT queue, processing, stuck_processing FROM coord.queue_stats WHERE queue = 'mail';
SELECT coord.complete(5, regress.claim_token(5)) AS completed_stuck_task;
SELECT coord.sweep() -> 'task_stuck_resolved' AS stuck_resolved;
RESET coord.task_stuck_alert_after;

-- lease_held_too_long: a live lease held past coord.lease_alert_after.
SELECT coord.acquire('tasks-test:lease', 'i-1') AS lease_token \gset
UPDATE coord.lease_state SET acquired_at = acquired_at - interval '3 hours' WHERE name = 'tasks-test:lease';
SELECT coord.sweep() -> 'lease_held_too_long_raised' AS lease_alert_raised;
-- The detail names the holder's role, never its token (alerts are readable by
-- every coord_user; tokens only by their own role, see holding_roles).
SELECT subject, detail ->> 'owner' AS owner, detail ->> 'holder_role' = current_user AS holder_role_matches,
       detail ? 'token' AS shows_token
FROM coord.alerts WHERE kind = 'lease_held_too_long' AND resolved_at IS NULL ORDER BY subject;
SET coord.lease_alert_after = '4h';
SELECT coord.sweep() -> 'lease_held_too_long_resolved' AS resolved_by_threshold;
RESET coord.lease_alert_after;
SELECT coord.sweep() -> 'lease_held_too_long_raised' AS raised_again;
SELECT coord.release('tasks-test:lease', :lease_token) AS released;
SELECT coord.sweep() -> 'lease_held_too_long_resolved' AS resolved_by_release;
SELECT count(*) FILTER (WHERE resolved_at IS NULL) AS open_lease_alerts, count(*) AS lease_alerts
FROM coord.alerts WHERE kind = 'lease_held_too_long';

-- Pruning: completed tasks past coord.completed_retention go, with history.
SELECT count(*) AS complete_before FROM coord.tasks_complete;
SELECT regress.claim_token(2) AS task_2_token \gset
UPDATE coord.tasks_complete SET completed_at = completed_at - interval '8 days' WHERE id = 2;
SELECT coord.sweep() -> 'tasks_pruned' AS pruned;
SELECT count(*) AS task_2_rows FROM coord.task(2);
SELECT count(*) AS task_2_attempts FROM coord.task_attempts WHERE task_id = 2;
SELECT count(*) AS complete_after FROM coord.tasks_complete;
SELECT regress.error_of(format('SELECT coord.complete(2, %s)', :task_2_token));

-- queue_stats.
SELECT queue, pending, due, processing, complete, dead, oldest_due_age IS NOT NULL AS has_due,
       stuck_processing
FROM coord.queue_stats ORDER BY queue;

-- The GUCs and their defaults.
SELECT name, setting, unit, context FROM pg_settings
WHERE name IN ('coord.database', 'coord.sweep_interval', 'coord.lease_alert_after',
               'coord.task_stuck_alert_after', 'coord.completed_retention')
ORDER BY name;

-- Privileges: coord_user uses the API and reads views; writes nothing directly.
SELECT p.proname, has_function_privilege('coord_user', p.oid, 'EXECUTE') AS coord_user,
       has_function_privilege('coord_admin', p.oid, 'EXECUTE') AS coord_admin
FROM pg_proc p WHERE p.pronamespace = 'coord'::regnamespace
  AND p.proname IN ('enqueue', 'claim', 'heartbeat', 'complete', 'fail', 'retry_dead', 'task', 'sweep')
ORDER BY p.proname;
SELECT c.relname, has_table_privilege('coord_user', c.oid, 'SELECT') AS can_select,
       has_table_privilege('coord_user', c.oid, 'INSERT,UPDATE,DELETE') AS can_write
FROM pg_class c WHERE c.relnamespace = 'coord'::regnamespace
  AND c.relname IN ('tasks', 'tasks_complete', 'task_attempts', 'queue_stats')
ORDER BY c.relname;
SET ROLE coord_user;
SELECT coord.queue_create('as-user') AS created;
SELECT coord.enqueue('as-user', '{}') > 0 AS user_enqueued;
SELECT count(*) AS user_claimed FROM coord.claim('as-user', 'u');
SELECT regress.error_of($$DELETE FROM coord.tasks$$);
RESET ROLE;

-- coord.complete moves the task without the executor (src/pg/queue/task_move.cpp):
-- claimed and completed in one statement, a payload stored out of line
-- (TOAST) arrives intact, and every row version of both tables is reachable
-- from their btree indexes (amcheck).
SELECT coord.enqueue('direct', jsonb_build_object('blob',
           (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g))) AS big_id \gset
SELECT coord.enqueue('direct', '{"n": 2}') AS small_id \gset
SELECT md5(payload::text) AS big_md5, pg_column_size(payload) > 8000 AS stored_out_of_line
FROM coord.tasks WHERE id = :big_id \gset
SELECT :'stored_out_of_line' AS stored_out_of_line;
SELECT task_id = :big_id AS is_big, coord.complete(task_id, token, jsonb_build_object('ok', true)) AS completed
FROM coord.claim('direct', 'direct-worker', batch => 2) ORDER BY task_id;
SELECT state, md5(payload::text) = :'big_md5' AS payload_intact, result, worker,
       token = regress.claim_token(:big_id) AS token_is_the_claims,
       jsonb_array_length(attempt_history) AS attempts_listed
FROM coord.task(:big_id);
SELECT count(*) AS left_hot_table FROM coord.tasks WHERE id IN (:big_id, :small_id);
CREATE EXTENSION amcheck;
SELECT bt_index_check('coord.tasks_complete_pkey', heapallindexed => true);
SELECT bt_index_check('coord.tasks_pkey', heapallindexed => true);
SET enable_seqscan = off;
SELECT count(*) AS found_by_index FROM coord.tasks_complete WHERE id IN (:big_id, :small_id);
RESET enable_seqscan;
DROP EXTENSION amcheck;
-- A stale token on the direct path: PC001, nothing written.
SELECT coord.enqueue('direct', '{"n": 3}') AS stale_id \gset
SELECT count(*) AS claimed FROM coord.claim('direct', 'direct-worker');
SELECT regress.state_digest() AS digest \gset
SELECT regress.error_of(format('SELECT coord.complete(%s, 2)', :stale_id));
SELECT regress.state_digest() = :'digest' AS unchanged;
-- A read-only transaction cannot complete a task (25006, as for the DELETE
-- the move replaces); nothing written.
BEGIN READ ONLY;
SELECT regress.error_of(format('SELECT coord.complete(%s, %s)', :stale_id, regress.claim_token(:stale_id)));
ROLLBACK;
SELECT regress.state_digest() = :'digest' AS unchanged;
-- A trigger an administrator put on a task table fires: such a table is
-- written through the executor (the SQL move), with the same results.
CREATE TABLE regress.completed_log (id bigint, result jsonb);
CREATE FUNCTION regress.log_completed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regress.completed_log VALUES (NEW.id, NEW.result);
    RETURN NEW;
END
$$;
CREATE TRIGGER log_completed AFTER INSERT ON coord.tasks_complete
    FOR EACH ROW EXECUTE FUNCTION regress.log_completed();
SELECT regress.state_digest() AS digest \gset
SELECT regress.error_of(format('SELECT coord.complete(%s, 2)', :stale_id));
SELECT regress.state_digest() = :'digest' AS unchanged;
SELECT coord.complete(:stale_id, regress.claim_token(:stale_id), '"via executor"') AS completed;
SELECT coord.complete(:stale_id, regress.claim_token(:stale_id)) AS completed_again;
SELECT id = :stale_id AS logged_task, result FROM regress.completed_log;
SELECT state, result FROM coord.task(:stale_id);
DROP TRIGGER log_completed ON coord.tasks_complete;
DROP FUNCTION regress.log_completed();
DROP TABLE regress.completed_log;

-- Claims use the partial index of pending tasks.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT id FROM coord.tasks WHERE queue = 'mail' AND state = 'pending' AND run_at <= now()
ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED;
RESET enable_seqscan;

-- A claim's token is never handed out twice: a claim in a rolled-back
-- transaction leaves the task pending, and the next claim of the task gets a
-- different, larger token; the rolled-back claim's token cannot complete,
-- fail or heartbeat it (PC001) and nothing changes.
SELECT coord.enqueue('rollback', '{}') AS rb_task \gset
BEGIN;
SELECT token AS rb_claim_1 FROM coord.claim('rollback', 'w-a') \gset
ROLLBACK;
SELECT state, attempts, token FROM coord.tasks WHERE id = :rb_task;
SELECT token AS rb_claim_2 FROM coord.claim('rollback', 'w-b') \gset
SELECT :rb_claim_2 <> :rb_claim_1 AS different, :rb_claim_2 > :rb_claim_1 AS larger;
SELECT regress.state_digest() AS digest \gset
SELECT regress.error_of(format('SELECT coord.complete(%s, %s)', :rb_task, :rb_claim_1));
SELECT regress.error_of(format('SELECT coord.fail(%s, %s, %L)', :rb_task, :rb_claim_1, 'late'));
SELECT regress.error_of(format('SELECT coord.heartbeat(%s, %s)', :rb_task, :rb_claim_1));
SELECT regress.state_digest() = :'digest' AS unchanged;
SELECT coord.complete(:rb_task, :rb_claim_2) AS completed_by_the_current_claim;

DELETE FROM coord.task_attempts;
DELETE FROM coord.tasks_complete;
DELETE FROM coord.tasks;
DELETE FROM coord.alerts;
DELETE FROM coord.lease_state WHERE name = 'tasks-test:lease';
