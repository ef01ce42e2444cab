-- coord.metrics() and coord.queue_stats from shared memory (issue 12):
-- counted at commit (a rolled-back enqueue counts nothing), gauges equal to
-- a count of the tables, readable by pg_monitor without coord privileges.
CREATE FUNCTION regress.metric(m text, q text DEFAULT NULL) RETURNS double precision
LANGUAGE sql AS $$
    SELECT COALESCE(sum(value), 0) FROM coord.metrics()
    WHERE metric = m AND (q IS NULL OR labels->>'queue' = q)
$$;
-- The gauges against a count of the tables, per queue.
CREATE FUNCTION regress.gauges_match() RETURNS boolean LANGUAGE sql AS $$
    WITH counted AS (
        SELECT t.queue, count(*) FILTER (WHERE t.state = 'pending') AS pending,
               count(*) FILTER (WHERE t.state = 'processing') AS processing,
               count(*) FILTER (WHERE t.state = 'dead') AS dead
        FROM coord.tasks t GROUP BY t.queue
    ), complete AS (SELECT queue, count(*) AS complete FROM coord.tasks_complete GROUP BY queue),
    truth AS (
        SELECT COALESCE(c.queue, d.queue) AS queue, COALESCE(c.pending, 0) AS pending,
               COALESCE(c.processing, 0) AS processing, COALESCE(d.complete, 0) AS complete,
               COALESCE(c.dead, 0) AS dead
        FROM counted c FULL JOIN complete d ON d.queue = c.queue
    ), shown AS (SELECT queue, pending, processing, complete, dead FROM coord.queue_stats)
    SELECT NOT EXISTS (SELECT * FROM truth EXCEPT SELECT * FROM shown)
       AND NOT EXISTS (SELECT * FROM shown EXCEPT SELECT * FROM truth)
$$;
-- The earlier tests wrote the task tables directly as a superuser, which no
-- gauge sees (only the coord.* functions keep them). A TRUNCATE gives the
-- tables new relfilenodes: the gauges are counted again by the next sweep,
-- and from then on kept in shared memory.
TRUNCATE coord.tasks, coord.tasks_complete, coord.task_attempts;
SELECT coord.sweep() IS NOT NULL AS swept;
SELECT regress.metric('coord_gauges_valid') AS gauges_valid;
SELECT regress.gauges_match() AS match_after_count;

SELECT coord.queue_create('mq', max_attempts => 2) AS created;
SELECT regress.metric('coord_tasks_enqueued_total', 'mq') AS enqueued_before;
-- Rolled back: not counted (neither in a subtransaction).
BEGIN;
SELECT coord.enqueue('mq', '{}') IS NOT NULL AS enqueued;
ROLLBACK;
BEGIN;
SELECT coord.enqueue('mq', '{"kept": true}') IS NOT NULL AS enqueued;
SAVEPOINT s;
SELECT count(*) AS enqueued FROM coord.enqueue_many('mq', ARRAY['{}', '{}']::jsonb[]);
ROLLBACK TO SAVEPOINT s;
SAVEPOINT s2;
SELECT coord.enqueue('mq', '{"kept": 2}', run_in => '1 hour') IS NOT NULL AS enqueued_later;
RELEASE SAVEPOINT s2;
COMMIT;
SELECT regress.metric('coord_tasks_enqueued_total', 'mq') AS enqueued,
       regress.metric('coord_tasks_pending', 'mq') AS pending,
       regress.metric('coord_tasks_due', 'mq') AS due;
SELECT pending, due, processing, complete, dead FROM coord.queue_stats WHERE queue = 'mq';

-- Claims, completions, failures, cancels, snoozes, purges move the gauges.
SELECT coord.enqueue_many('mq', ARRAY['{}', '{}', '{}', '{}']::jsonb[]) IS NOT NULL AS enqueued;
CREATE TABLE regress.mq_claims AS SELECT task_id, token FROM coord.claim('mq', 'w', batch => 4);
SELECT regress.metric('coord_tasks_processing', 'mq') AS processing;
SELECT coord.complete(task_id, token) FROM regress.mq_claims ORDER BY task_id LIMIT 1;
SELECT coord.fail(task_id, token, 'boom', retry => false) FROM regress.mq_claims WHERE task_id = (SELECT task_id FROM regress.mq_claims ORDER BY task_id OFFSET 1 LIMIT 1);
SELECT coord.fail(task_id, token, 'again', retry_in => '0') FROM regress.mq_claims WHERE task_id = (SELECT task_id FROM regress.mq_claims ORDER BY task_id OFFSET 2 LIMIT 1);
SELECT coord.snooze(task_id, token, '1 hour') IS NOT NULL AS snoozed FROM regress.mq_claims WHERE task_id = (SELECT task_id FROM regress.mq_claims ORDER BY task_id OFFSET 3 LIMIT 1);
SELECT coord.cancel(id) FROM coord.tasks WHERE queue = 'mq' AND state = 'pending' ORDER BY id LIMIT 1;
-- due: pending minus those not due yet, which each sweep counts again (a
-- cancelled task that was scheduled ahead counts until then).
SELECT coord.sweep() IS NOT NULL AS swept;
SELECT metric, value FROM coord.metrics() WHERE labels->>'queue' = 'mq' ORDER BY metric, labels::text;
SELECT regress.gauges_match() AS match_after_moves;
SELECT coord.retry_dead(id) FROM coord.tasks WHERE queue = 'mq' AND state = 'dead';
SELECT coord.purge('mq', 'pending') > 0 AS purged;
SELECT regress.gauges_match() AS match_after_purge;
-- A failing statement inside complete_many writes nothing and counts nothing.
SELECT regress.metric('coord_tasks_completed_total', 'mq') AS completed_before \gset
SELECT regress.error_of($$SELECT * FROM coord.complete_many(ARRAY[-1]::bigint[], ARRAY[1]::bigint[])$$);
SELECT regress.metric('coord_tasks_completed_total', 'mq') = :completed_before AS not_counted;

-- Leases: an acquisition, a takeover of an expired holding, a fence rejection.
SELECT regress.metric('coord_lease_acquisitions_total') AS acquired_before,
       regress.metric('coord_lease_takeovers_total') AS took_over_before,
       regress.metric('coord_fence_rejections_total') AS rejected_before \gset
SELECT coord.acquire('metrics:a', 'o1', ttl => '1 hour') AS token \gset
UPDATE coord.lease_state SET expires_at = now() - interval '1 second' WHERE name = 'metrics:a';
SELECT coord.acquire('metrics:a', 'o2', ttl => '1 hour') > :token AS taken_over;
SELECT left(regress.error_of(format('SELECT coord.check_fence(%L, %s)', 'metrics:a', :token)), 5) AS stale_fence;
SELECT regress.metric('coord_lease_acquisitions_total') - :acquired_before AS acquisitions,
       regress.metric('coord_lease_takeovers_total') - :took_over_before AS takeovers,
       regress.metric('coord_fence_rejections_total') - :rejected_before AS rejections;
SELECT coord.force_release('metrics:a') AS released;

-- Sweeps: run, with the last one's time.
SELECT regress.metric('coord_sweeps_total') AS sweeps_before \gset
SELECT coord.sweep() IS NOT NULL AS swept;
SELECT regress.metric('coord_sweeps_total') - :sweeps_before AS sweeps,
       regress.metric('coord_last_sweep_timestamp_seconds') > extract(epoch FROM now()) - 60 AS recent,
       regress.metric('coord_last_sweep_duration_seconds') >= 0 AS duration;

-- pg_monitor: no coord role, reads metrics, queue_stats and queues.
CREATE ROLE regress_monitor IN ROLE pg_monitor;
SET ROLE regress_monitor;
SELECT count(*) > 0 AS metrics FROM coord.metrics();
SELECT count(*) >= 1 AS stats FROM coord.queue_stats WHERE queue = 'mq';
SELECT count(*) AS queues FROM coord.queues WHERE queue = 'mq';
SELECT regress.error_of($$SELECT count(*) FROM coord.queue_tasks$$);
RESET ROLE;
CREATE ROLE regress_nobody;
SET ROLE regress_nobody;
SELECT regress.error_of($$SELECT count(*) FROM coord.metrics()$$);
RESET ROLE;

-- After a TRUNCATE the gauges are counted again by the next sweep; until
-- then queue_stats counts the tables.
TRUNCATE coord.tasks_complete;
SELECT regress.metric('coord_gauges_valid') AS valid_after_truncate;
SELECT regress.gauges_match() AS match_counting;
SELECT coord.sweep() IS NOT NULL AS swept;
SELECT regress.metric('coord_gauges_valid') AS valid_after_sweep;
SELECT regress.gauges_match() AS match_recounted;

DROP TABLE regress.mq_claims;
SELECT coord.queue_drop('mq', force => true) AS dropped;
SELECT regress.metric('coord_tasks_pending', 'mq') AS pending_after_drop;
DROP ROLE regress_monitor;
DROP ROLE regress_nobody;
DROP FUNCTION regress.metric(text, text);
DROP FUNCTION regress.gauges_match();
