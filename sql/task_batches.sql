-- Batches and enqueue options (issue 12): enqueue_many, complete_many,
-- enqueue(run_in), max_attempts from the queue. Refused calls change nothing.
CREATE FUNCTION regress.batch_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(format('%s|%s|%s', t.id, t.state, t.token), ';' ORDER BY t.id)
                         FROM coord.tasks t), '') ||
               COALESCE((SELECT string_agg(c.id::text, ';' ORDER BY c.id) FROM coord.tasks_complete c), ''))
$$;
CREATE ROLE regress_tb_other;
GRANT coord_user TO regress_tb_other;
SELECT coord.queue_create('tb', max_attempts => 7) AS created;

-- enqueue: max_attempts defaults to the queue's; run_in instead of run_at.
SELECT coord.enqueue('tb', '{"n": 0}') AS first_task \gset
SELECT max_attempts FROM coord.tasks WHERE id = :first_task;
SELECT coord.enqueue('tb', '{}', max_attempts => NULL) AS null_attempts_task \gset
SELECT max_attempts AS null_is_the_queues FROM coord.tasks WHERE id = :null_attempts_task;
SELECT coord.enqueue('tb', '{}', max_attempts => 2) AS own_attempts_task \gset
SELECT max_attempts AS own FROM coord.tasks WHERE id = :own_attempts_task;
SELECT coord.enqueue('tb', '{}', run_in => '1 hour') AS later_task \gset
SELECT run_at - created_at BETWEEN interval '59 minutes' AND interval '61 minutes' AS due_in_an_hour
FROM coord.tasks WHERE id = :later_task;
SELECT coord.purge('tb', 'pending') AS purged;

-- Bad arguments: nothing enqueued or changed.
SELECT regress.batch_digest() AS digest \gset
SELECT regress.error_of($$SELECT coord.enqueue('tb', '{}', run_at => now(), run_in => '1 minute')$$);
SELECT regress.error_of($$SELECT coord.enqueue('tb', '{}', run_in => '-1 minute')$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', NULL)$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', '{}')$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', ARRAY['{}', NULL]::jsonb[])$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', array_fill('{}'::jsonb, ARRAY[1001]))$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', ARRAY['{}', '{}']::jsonb[], dedupe_keys => ARRAY['a'])$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', ARRAY['{}', '{}']::jsonb[], dedupe_keys => ARRAY['a', NULL])$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', ARRAY['{}', '{}']::jsonb[], dedupe_keys => ARRAY['a', ''])$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', ARRAY['{}']::jsonb[], priority => NULL)$$);
SELECT regress.error_of($$SELECT coord.enqueue_many('tb-none', ARRAY['{}']::jsonb[])$$);
SET ROLE regress_tb_other;
SELECT regress.error_of($$SELECT coord.enqueue_many('tb', ARRAY['{}']::jsonb[])$$);
RESET ROLE;
SELECT regress.batch_digest() = :'digest' AS unchanged;

-- enqueue_many: ids in input order; dedupe_keys as enqueue's.
SELECT array_agg(id ORDER BY ord) AS ids
FROM coord.enqueue_many('tb', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}']::jsonb[]) WITH ORDINALITY AS e(id, ord) \gset
SELECT (:'ids'::bigint[])[1] < (:'ids'::bigint[])[2] AND (:'ids'::bigint[])[2] < (:'ids'::bigint[])[3] AS in_order;
SELECT payload, max_attempts FROM coord.tasks WHERE id = ANY (:'ids'::bigint[]) ORDER BY id;
SELECT count(*) AS ids FROM coord.enqueue_many('tb', ARRAY['{"k": 1}', '{"k": 2}']::jsonb[], dedupe_keys => ARRAY['k1', 'k2']);
SELECT count(DISTINCT id) AS distinct_ids
FROM coord.enqueue_many('tb', ARRAY['{"k": 1}', '{"k": 2}']::jsonb[], dedupe_keys => ARRAY['k1', 'k2']) id;
SELECT count(*) AS pending FROM coord.tasks WHERE queue = 'tb' AND state = 'pending';

-- complete_many: one row per task; the same completion again is false.
SELECT array_agg(task_id ORDER BY task_id) AS claimed_ids, array_agg(token ORDER BY task_id) AS claimed_tokens
FROM coord.claim('tb', 'w', batch => 3) \gset
SELECT regress.batch_digest() AS digest \gset
-- A stale token in the batch: PC001 naming the task, nothing of the batch written.
SELECT regress.tokens_in(regress.error_of(format('SELECT * FROM coord.complete_many(%L, %L)', :'claimed_ids',
       (SELECT array_agg(CASE WHEN o = 3 THEN t + 1000 ELSE t END ORDER BY o)
        FROM unnest(:'claimed_tokens'::bigint[]) WITH ORDINALITY AS x(t, o))))) ~ '^PC001: cannot complete task [0-9]+:' AS stale_names_task;
SELECT regress.error_of(format('SELECT * FROM coord.complete_many(%L, %L)', :'claimed_ids', '{1}'));
SELECT regress.error_of(format('SELECT * FROM coord.complete_many(%L, %L, %L)', :'claimed_ids', :'claimed_tokens', '{"{}"}'));
SELECT regress.error_of(format('SELECT * FROM coord.complete_many(%L, NULL)', :'claimed_ids'));
SELECT regress.error_of($$SELECT * FROM coord.complete_many('{1,NULL}', '{1,2}')$$);
SET ROLE regress_tb_other;
SELECT regress.error_of(format('SELECT * FROM coord.complete_many(%L, %L)', :'claimed_ids', :'claimed_tokens')) LIKE '42501%' AS other_role;
RESET ROLE;
SELECT regress.batch_digest() = :'digest' AS unchanged;
SELECT count(*) AS rows, bool_and(completed) AS all_completed
FROM coord.complete_many(:'claimed_ids', :'claimed_tokens', ARRAY['{"r": 1}', '{"r": 2}', '{"r": 3}']::jsonb[]);
SELECT count(*) AS rows, bool_or(completed) AS any_completed FROM coord.complete_many(:'claimed_ids', :'claimed_tokens');
SELECT result FROM coord.tasks_complete WHERE id = ANY (:'claimed_ids'::bigint[]) ORDER BY id;

SELECT coord.queue_drop('tb', force => true) AS dropped;
DROP FUNCTION regress.batch_digest();
DROP ROLE regress_tb_other;
