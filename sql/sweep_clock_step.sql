-- A backward step of the server clock leaves rows stamped "in the future".
-- The sweep must go on regardless: here open alerts raised an hour from now
-- (written directly, as a clock stepped back by more than an hour would have
-- left them) stop firing in the same sweep that has an expired claim to
-- requeue. Resolving one at clock_timestamp() would violate
-- alerts_resolved_after_raised and roll back the whole step, requeue included.
SELECT coord.queue_create('clock') AS created;
SELECT coord.enqueue('clock', '{}') AS expired_task \gset
SELECT task_id = :expired_task AS claimed FROM coord.claim('clock', 'clock-worker', ttl => '1 microsecond');
SELECT coord.enqueue('clock', '{}', max_attempts => 1) AS dead_task \gset
SELECT task_id = :dead_task AS claimed, token AS dead_token FROM coord.claim('clock', 'clock-worker') \gset
SELECT coord.fail(:dead_task, :dead_token, 'gone for good') AS dead;
INSERT INTO coord.alerts (kind, subject, raised_at) VALUES
    ('task_dead', 'clock:no-longer-dead', clock_timestamp() + interval '1 hour'),
    ('task_dead', :'dead_task', clock_timestamp() + interval '1 hour'),
    ('lease_held_too_long', 'clock:released', clock_timestamp() + interval '1 hour');

SELECT s -> 'tasks_requeued' AS requeued, s -> 'task_dead_resolved' AS task_dead_resolved,
       s -> 'task_dead_raised' AS task_dead_raised,
       s -> 'lease_held_too_long_resolved' AS lease_alerts_resolved, s -> 'failed_steps' AS failed_steps
FROM coord.sweep() s;
SELECT state, attempts FROM coord.tasks WHERE id = :expired_task;
-- The alerts that stopped firing resolve at their raised_at, not before it;
-- the one still firing stays open, and no duplicate is raised for it.
SELECT kind, subject = :'dead_task' AS for_the_dead_task, resolved_at IS NULL AS open,
       resolved_at = raised_at AS resolved_when_raised
FROM coord.alerts WHERE kind IN ('task_dead', 'lease_held_too_long') ORDER BY id;

-- coord.leases.held_for is never negative, also for a holding acquired
-- "later" than the clock now says.
SELECT coord.acquire('clock:lease', 'clock-owner') AS lease_token \gset
UPDATE coord.lease_state SET acquired_at = clock_timestamp() + interval '1 hour',
                             expires_at = clock_timestamp() + interval '2 hours'
WHERE name = 'clock:lease';
SELECT held_for, expired FROM coord.leases WHERE name = 'clock:lease';

SELECT coord.release('clock:lease', :lease_token) AS released;
DELETE FROM coord.lease_state WHERE name = 'clock:lease';
DELETE FROM coord.alerts WHERE kind IN ('task_dead', 'lease_held_too_long');
DELETE FROM coord.task_attempts WHERE task_id IN (SELECT id FROM coord.tasks WHERE queue = 'clock');
DELETE FROM coord.tasks WHERE queue = 'clock';
