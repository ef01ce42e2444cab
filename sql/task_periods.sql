-- Once per period (enqueue's dedupe_for) and per-queue retention (issue 12).
-- Refused calls change nothing.
CREATE FUNCTION regress.period_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(format('%s|%s', t.id, t.state), ';' ORDER BY t.id)
                         FROM coord.tasks t), '') ||
               COALESCE((SELECT string_agg(format('%s|%s|%s', p.queue, p.dedupe_key, p.task_id), ';'
                                           ORDER BY p.queue, p.dedupe_key)
                         FROM coord.task_periods p), ''))
$$;
SELECT coord.queue_create('tp') AS created;

-- Bad dedupe_for: SQLSTATE, nothing enqueued.
SELECT regress.period_digest() AS digest \gset
SELECT regress.error_of($$SELECT coord.enqueue('tp', '{}', dedupe_for => '1 hour')$$);
SELECT regress.error_of($$SELECT coord.enqueue('tp', '{}', dedupe_key => 'k', dedupe_for => '-1 hour')$$);
SELECT regress.error_of($$SELECT coord.enqueue('tp', '{}', dedupe_key => 'k', dedupe_for => '0')$$);
SELECT regress.error_of($$SELECT coord.enqueue('tp', '{}', dedupe_key => 'k', dedupe_for => '3651 days')$$);
SELECT regress.error_of($$SELECT coord.enqueue('tp', '{}', dedupe_key => '', dedupe_for => '1 hour')$$);
SELECT regress.error_of($$SELECT coord.enqueue('tp-none', '{}', dedupe_key => 'k', dedupe_for => '1 hour')$$);
SELECT regress.period_digest() = :'digest' AS unchanged;

-- The first task of a period is enqueued; within the period its id comes
-- back, also once it completed, and nothing is added.
SELECT coord.enqueue('tp', '{"run": 1}', dedupe_key => 'daily:1', dedupe_for => '1 day') AS first \gset
SELECT coord.enqueue('tp', '{"run": 2}', dedupe_key => 'daily:1', dedupe_for => '1 day') = :first AS same_while_pending;
SELECT task_id, token FROM coord.claim('tp', 'w1') \gset
SELECT coord.complete(:task_id, :token) AS completed;
SELECT coord.enqueue('tp', '{"run": 3}', dedupe_key => 'daily:1', dedupe_for => '1 day') = :first AS same_once_complete;
-- Without dedupe_for the key only dedupes unfinished tasks: a new task.
SELECT coord.enqueue('tp', '{"run": 4}', dedupe_key => 'daily:1') <> :first AS plain_key_adds;
SELECT coord.purge('tp', 'pending') AS purged;
SELECT count(*) AS tasks_with_key FROM coord.queue_tasks WHERE queue = 'tp';
SELECT task_id = :first AS period_row, expires_at - created_at AS period FROM coord.task_periods;
-- Another queue's key is another period.
SELECT coord.queue_create('tp2') AS created;
SELECT coord.enqueue('tp2', '{}', dedupe_key => 'daily:1', dedupe_for => '1 day') <> :first AS other_queue;
-- Once the period ended (moved back here instead of waiting), a new task.
UPDATE coord.task_periods SET created_at = created_at - interval '2 days',
                              expires_at = expires_at - interval '2 days' WHERE queue = 'tp';
SELECT coord.enqueue('tp', '{"run": 5}', dedupe_key => 'daily:1', dedupe_for => '1 day') AS second \gset
SELECT :second <> :first AS new_period;
SELECT count(*) AS periods FROM coord.task_periods WHERE queue = 'tp' AND task_id = :second;
-- A period that began while an unfinished task held the key returns that task.
UPDATE coord.task_periods SET expires_at = now() - interval '1 second' WHERE queue = 'tp';
SELECT coord.enqueue('tp', '{"run": 6}', dedupe_key => 'daily:1', dedupe_for => '1 hour') = :second AS unfinished_wins;
SELECT task_id = :second AS period_task FROM coord.task_periods WHERE queue = 'tp';

-- The sweep deletes ended periods (and only those).
UPDATE coord.task_periods SET expires_at = now() - interval '1 second' WHERE queue = 'tp';
SELECT (coord.sweep()->>'tasks_pruned') IS NOT NULL AS swept;
SELECT queue FROM coord.task_periods ORDER BY queue;

-- Per-queue retention: finished tasks (complete, dead, cancelled) are kept
-- for their queue's retention. Their finish times are moved back 2 hours.
SELECT coord.queue_create('tr_short', retention => '1 hour', max_attempts => 1) AS created;
SELECT coord.queue_create('tr_long', retention => '1 day', max_attempts => 1) AS created;
CREATE TABLE regress.tr_ids (queue text, kind text, id bigint);
DO $$
DECLARE
    q text;
    c record;
BEGIN
    FOREACH q IN ARRAY ARRAY['tr_short', 'tr_long'] LOOP
        INSERT INTO regress.tr_ids VALUES (q, 'complete', coord.enqueue(q, '{}'));
        INSERT INTO regress.tr_ids VALUES (q, 'dead', coord.enqueue(q, '{}'));
        INSERT INTO regress.tr_ids VALUES (q, 'cancelled', coord.enqueue(q, '{}'));
        INSERT INTO regress.tr_ids VALUES (q, 'pending', coord.enqueue(q, '{}'));
        SELECT * INTO c FROM coord.claim(q, 'w', batch => 1);
        PERFORM coord.complete(c.task_id, c.token);
        SELECT * INTO c FROM coord.claim(q, 'w', batch => 1);
        PERFORM coord.fail(c.task_id, c.token, 'boom');
        PERFORM coord.cancel((SELECT id FROM regress.tr_ids WHERE queue = q AND kind = 'cancelled'));
    END LOOP;
END
$$;
SELECT i.queue, i.kind, t.state FROM regress.tr_ids i JOIN coord.queue_tasks t ON t.id = i.id
ORDER BY i.queue, i.kind;
UPDATE coord.tasks_complete SET completed_at = completed_at - interval '2 hours'
WHERE queue IN ('tr_short', 'tr_long');
UPDATE coord.tasks SET finished_at = finished_at - interval '2 hours'
WHERE queue IN ('tr_short', 'tr_long') AND state IN ('dead', 'cancelled');
SELECT (coord.sweep()->>'tasks_pruned')::int AS pruned;
SELECT i.queue, i.kind, t.state FROM regress.tr_ids i LEFT JOIN coord.queue_tasks t ON t.id = i.id
ORDER BY i.queue, i.kind;
SELECT count(*) AS history_left FROM coord.task_attempts a JOIN regress.tr_ids i ON i.id = a.task_id
WHERE i.queue = 'tr_short';
-- A shorter retention set later applies at the next sweep.
SELECT coord.queue_alter('tr_long', retention => '1 hour') AS altered;
SELECT (coord.sweep()->>'tasks_pruned')::int AS pruned;
SELECT i.queue, i.kind, t.state FROM regress.tr_ids i LEFT JOIN coord.queue_tasks t ON t.id = i.id
WHERE i.queue = 'tr_long' ORDER BY i.kind;

SELECT coord.queue_drop(q, force => true) FROM unnest(ARRAY['tp', 'tp2', 'tr_short', 'tr_long']) q;
DELETE FROM coord.alerts WHERE kind = 'task_dead' AND subject IN (SELECT id::text FROM regress.tr_ids);
DROP TABLE regress.tr_ids;
DROP FUNCTION regress.period_digest();
