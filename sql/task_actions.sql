-- Task actions (issue 12): cancel, snooze, fail(retry => false), purge, and
-- the queue's backoff_max. Refused calls change nothing.
CREATE FUNCTION regress.task_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(format('%s|%s|%s|%s|%s|%s', t.id, t.state, t.token,
                                                  t.attempts, t.run_at, t.finished_at), ';' ORDER BY t.id)
                         FROM coord.tasks t), '') ||
               COALESCE((SELECT string_agg(format('%s|%s', a.task_id, a.attempt), ';'
                                           ORDER BY a.task_id, a.attempt)
                         FROM coord.task_attempts a), '') ||
               COALESCE((SELECT string_agg(c.id::text, ';' ORDER BY c.id) FROM coord.tasks_complete c), ''))
$$;
CREATE ROLE regress_ta_owner;
CREATE ROLE regress_ta_worker;
CREATE ROLE regress_ta_stranger;
GRANT coord_user TO regress_ta_owner, regress_ta_worker, regress_ta_stranger;
SET ROLE regress_ta_owner;
SELECT coord.queue_create('ta', backoff_max => '2 seconds') AS created;
SELECT coord.queue_grant('ta', 'regress_ta_worker', 'consume') AS granted;
SELECT coord.enqueue('ta', '{"n": 1}') AS pending_task \gset
SELECT coord.enqueue('ta', '{"n": 2}', priority => 10) AS running_task \gset
RESET ROLE;
SET ROLE regress_ta_worker;
SELECT task_id = :running_task AS claimed, token AS running_token FROM coord.claim('ta', 'w1') \gset
RESET ROLE;

-- Bad arguments and refused callers: nothing changed.
SELECT regress.task_digest() AS digest \gset
SET ROLE regress_ta_stranger;
SELECT regress.error_of(format('SELECT coord.cancel(%s)', :pending_task));
SELECT regress.error_of(format('SELECT coord.snooze(%s, %s, %L)', :running_task, :running_token, '1 minute'));
SELECT regress.error_of(format('SELECT coord.fail(%s, %s, %L, retry => false)', :running_task, :running_token, 'x'));
SELECT regress.error_of($$SELECT coord.purge('ta', 'pending')$$);
RESET ROLE;
SET ROLE regress_ta_worker;
SELECT regress.error_of($$SELECT coord.cancel(NULL)$$);
SELECT regress.error_of($$SELECT coord.cancel(999999)$$);
SELECT regress.error_of(format('SELECT coord.snooze(%s, %s, NULL)', :running_task, :running_token));
SELECT regress.error_of(format('SELECT coord.snooze(%s, %s, %L)', :running_task, :running_token, '-1 second'));
SELECT regress.error_of(format('SELECT coord.snooze(%s, %s, %L)', :running_task, :running_token, '3651 days'));
SELECT regress.error_of(format('SELECT coord.snooze(%s, NULL, %L)', :running_task, '1 minute'));
SELECT regress.error_of(format('SELECT coord.snooze(%s, %s, %L)', :running_task, :running_token + 1, '1 minute'));
SELECT regress.error_of(format('SELECT coord.fail(%s, %s, %L, retry => NULL)', :running_task, :running_token, 'x'));
RESET ROLE;
SELECT regress.error_of($$SELECT coord.purge('ta', 'processing')$$);
SELECT regress.error_of($$SELECT coord.purge('ta', NULL)$$);
SELECT regress.error_of($$SELECT coord.purge('ta-none', 'dead')$$);
SELECT regress.task_digest() = :'digest' AS unchanged;

-- snooze: back to pending, due after run_in, the attempt not counted; the
-- token is stale afterwards.
SET ROLE regress_ta_worker;
SELECT coord.snooze(:running_task, :running_token, '1 hour') AS snoozed_until \gset
SELECT :'snoozed_until'::timestamptz - clock_timestamp() BETWEEN interval '59 minutes' AND interval '1 hour'
       AS due_in_an_hour;
RESET ROLE;
SELECT state, attempts, worker, claimed_by FROM coord.tasks WHERE id = :running_task;
SET ROLE regress_ta_worker;
SELECT regress.error_of(format('SELECT coord.complete(%s, %s)', :running_task, :running_token)) LIKE 'PC001%' AS stale_after_snooze;
-- Snoozed for 0: due at once, and the next claim is attempt 1 again.
RESET ROLE;
UPDATE coord.tasks SET run_at = clock_timestamp() WHERE id = :running_task;
SET ROLE regress_ta_worker;
SELECT task_id = :running_task AS claimed_again, attempt FROM coord.claim('ta', 'w1');
RESET ROLE;

-- fail(retry => false): dead at once, whatever attempts are left; the outcome is recorded.
SELECT token AS running_token FROM coord.tasks WHERE id = :running_task \gset
SET ROLE regress_ta_worker;
SELECT coord.fail(:running_task, :running_token, 'invalid card', retry => false) AS state;
RESET ROLE;
SELECT state, attempts, max_attempts, last_error, finished_at IS NOT NULL AS finished
FROM coord.tasks WHERE id = :running_task;
SELECT attempt, outcome, error FROM coord.task_attempts WHERE task_id = :running_task;

-- fail with retry: the backoff is capped by the queue's backoff_max (2 s).
SELECT coord.queue_alter('ta', max_attempts => 20) AS altered;
SELECT coord.enqueue('ta', '{"n": 3}', max_attempts => 20, priority => 50) AS backoff_task \gset
UPDATE coord.tasks SET attempts = 12 WHERE id = :backoff_task;  -- backoff would be 2048 s
SELECT token AS backoff_token FROM coord.claim('ta', 'w-admin', batch => 1) WHERE task_id = :backoff_task \gset
SELECT coord.fail(:backoff_task, :backoff_token, 'again') AS state;
SELECT run_at - clock_timestamp() BETWEEN interval '0.5 seconds' AND interval '2 seconds' AS capped FROM coord.tasks WHERE id = :backoff_task;

-- cancel: a pending task, by a consumer of the queue.
SET ROLE regress_ta_worker;
SELECT coord.cancel(:pending_task) AS cancelled;
SELECT coord.cancel(:pending_task) AS cancelled_again;
RESET ROLE;
SELECT state, last_error, finished_at IS NOT NULL AS finished FROM coord.tasks WHERE id = :pending_task;
-- A cancelled task does not hold its dedupe_key.
SET ROLE regress_ta_owner;
SELECT coord.enqueue('ta', '{}', dedupe_key => 'once') AS dedupe_task \gset
SELECT coord.cancel(:dedupe_task) AS cancelled;
SELECT coord.enqueue('ta', '{}', dedupe_key => 'once') <> :dedupe_task AS new_task_for_the_key;
-- cancel of a processing task: the worker's token is stale (PC001), the
-- running attempt ends as cancelled in the history.
RESET ROLE;
SELECT coord.enqueue('ta', '{"n": 4}', priority => 100) AS claimed_task \gset
SET ROLE regress_ta_worker;
SELECT token AS claimed_token FROM coord.claim('ta', 'w2') \gset
RESET ROLE;
SET ROLE regress_ta_owner;
SELECT coord.cancel(:claimed_task) AS cancelled;
RESET ROLE;
SET ROLE regress_ta_worker;
SELECT regress.error_of(format('SELECT coord.heartbeat(%s, %s)', :claimed_task, :claimed_token)) LIKE 'PC001%' AS heartbeat_stale;
SELECT regress.error_of(format('SELECT coord.complete(%s, %s)', :claimed_task, :claimed_token)) LIKE 'PC001%' AS complete_stale;
RESET ROLE;
SELECT state, attempts, worker, claimed_by FROM coord.tasks WHERE id = :claimed_task;
SELECT attempt, outcome, error FROM coord.task_attempts WHERE task_id = :claimed_task;
-- A completed task: false, nothing changed.
SELECT coord.enqueue('ta', '{"n": 5}', priority => 100) AS done_task \gset
SELECT coord.complete(task_id, token) AS completed FROM coord.claim('ta', 'w3');
SELECT coord.cancel(:done_task) AS cancel_complete;
SELECT coord.cancel(:running_task) AS cancel_dead;

-- The sweep prunes cancelled tasks after the retention, with their history.
SELECT coord.queue_alter('ta', retention => '1 hour') AS short_retention;
UPDATE coord.tasks SET finished_at = finished_at - interval '2 hours' WHERE id = :claimed_task;
SELECT coord.sweep() IS NOT NULL AS swept;
SELECT count(*) AS cancelled_left FROM coord.tasks WHERE id = :claimed_task;
SELECT count(*) AS history_left FROM coord.task_attempts WHERE task_id = :claimed_task;
SELECT coord.queue_alter('ta', retention => '7 days') AS default_retention;

-- purge (coord_admin): the tasks of one state of a queue, with their history.
SELECT state, count(*) FROM coord.queue_tasks WHERE queue = 'ta' GROUP BY state ORDER BY state;
SELECT coord.purge('ta', 'cancelled') AS purged_cancelled;
SELECT coord.purge('ta', 'dead') AS purged_dead;
SELECT coord.purge('ta', 'complete') AS purged_complete;
SELECT coord.purge('ta', 'pending') AS purged_pending;
SELECT state, count(*) FROM coord.queue_tasks WHERE queue = 'ta' GROUP BY state ORDER BY state;

SELECT coord.queue_drop('ta', force => true) AS dropped;
-- The sweep above raised a task_dead alert for the dead task: gone with it.
DELETE FROM coord.alerts WHERE kind LIKE 'task_%' AND subject = :'running_task';
DROP FUNCTION regress.task_digest();
DROP ROLE regress_ta_owner, regress_ta_worker, regress_ta_stranger;
