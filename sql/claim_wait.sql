-- claim(wait_for) and the multi-queue claim (issue 12): the claim's columns,
-- the order over several queues, paused queues, and every refused call
-- changing nothing. The wake-ups themselves are raced in the isolation spec
-- task_claim_wait; timing is measured in bench/queue.
CREATE FUNCTION regress.claim_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(format('%s|%s|%s|%s|%s', t.id, t.queue, t.state, t.token,
                                                  t.attempts), ';' ORDER BY t.id)
                         FROM coord.tasks t), ''))
$$;
CREATE ROLE regress_cw_other;
GRANT coord_user TO regress_cw_other;
SELECT coord.queue_create('cw:a', max_attempts => 3) AS created;
SELECT coord.queue_create('cw:b') AS created;
SELECT coord.queue_create('cw:c') AS created;

-- The columns of a claim, for one queue and for several.
SELECT coord.enqueue('cw:a', '{"n": 1}') AS a1 \gset
SELECT task_id = :a1 AS is_a1, queue, payload, attempt, max_attempts, token > 0 AS has_token,
       execution_id IS NOT NULL AS has_execution,
       lease_expires_at - now() BETWEEN interval '9 minutes' AND interval '11 minutes' AS ten_minutes
FROM coord.claim('cw:a', 'w1');
SELECT p.oid::regprocedure AS claim, pg_get_function_result(p.oid) AS result
FROM pg_proc p WHERE p.proname = 'claim' AND p.pronamespace = 'coord'::regnamespace ORDER BY 1::text;

-- Several queues: highest priority first, then oldest, over all of them.
SELECT coord.enqueue('cw:b', '{"n": "b-low"}', priority => 0) AS b_low \gset
SELECT coord.enqueue('cw:c', '{"n": "c-high"}', priority => 5) AS c_high \gset
SELECT coord.enqueue('cw:a', '{"n": "a-mid"}', priority => 2) AS a_mid \gset
SELECT coord.enqueue('cw:b', '{"n": "b-later"}', run_in => '1 hour') AS b_later \gset
SELECT queue, payload, attempt, max_attempts
FROM coord.claim(ARRAY['cw:a', 'cw:b', 'cw:c'], 'w2', batch => 2);
SELECT queue, payload FROM coord.claim(queues => ARRAY['cw:c', 'cw:b', 'cw:b'], worker => 'w2', batch => 5);
SELECT count(*) AS nothing_due FROM coord.claim(ARRAY['cw:a', 'cw:b', 'cw:c'], 'w2', batch => 5);
-- wait_for runs out: no rows.
SELECT count(*) AS none_after_wait FROM coord.claim(ARRAY['cw:a', 'cw:b'], 'w2', wait_for => '20 ms');
SELECT count(*) AS none_after_wait FROM coord.claim('cw:c', 'w2', wait_for => '20 ms');

-- A paused queue returns none (also with wait_for); the others still give theirs.
SELECT coord.enqueue('cw:a', '{"n": "a-paused"}') AS a_paused \gset
SELECT coord.enqueue('cw:c', '{"n": "c-open"}') AS c_open \gset
SELECT coord.queue_pause('cw:a') AS paused;
SELECT count(*) AS from_paused FROM coord.claim('cw:a', 'w3');
SELECT count(*) AS from_paused FROM coord.claim('cw:a', 'w3', wait_for => '20 ms');
SELECT queue, payload FROM coord.claim(ARRAY['cw:a', 'cw:c'], 'w3', batch => 5);
SELECT coord.queue_resume('cw:a') AS resumed;
SELECT queue, payload FROM coord.claim(ARRAY['cw:a', 'cw:c'], 'w3', batch => 5, wait_for => '1 s');

-- Bad arguments: a clear SQLSTATE, nothing claimed or changed.
SELECT coord.enqueue('cw:a', '{"n": "left"}') AS left_task \gset
SELECT regress.claim_digest() AS digest \gset
SELECT regress.error_of($$SELECT * FROM coord.claim('cw:a', 'w', wait_for => '-1 s')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('cw:a', 'w', wait_for => NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('cw:a', 'w', wait_for => '2 days')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY['cw:a'], 'w', wait_for => '-1 s')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(NULL::text[], 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('{}'::text[], 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY['cw:a', NULL], 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY['cw:a', ''], 'w')$$);
SELECT regress.error_of(format('SELECT * FROM coord.claim(ARRAY[%L], %L)', repeat('x', 129), 'w'));
SELECT regress.error_of($$SELECT * FROM coord.claim(array_fill('cw:a'::text, ARRAY[1001]), 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY[['cw:a'], ['cw:b']], 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY['cw:a', 'cw:none'], 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('cw:none', 'w', wait_for => '1 s')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY['cw:a'], NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY['cw:a'], 'w', batch => 0)$$);
SET ROLE regress_cw_other;
SELECT regress.error_of($$SELECT * FROM coord.claim(ARRAY['cw:a', 'cw:b'], 'w')$$);
SELECT regress.error_of($$SELECT * FROM coord.claim('cw:a', 'w', wait_for => '1 s')$$);
RESET ROLE;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT regress.error_of($$SELECT * FROM coord.claim('cw:a', 'w', wait_for => '1 s')$$);
SELECT count(*) AS without_wait_fine FROM coord.claim('cw:b', 'w');
ROLLBACK;
SELECT regress.claim_digest() = :'digest' AS unchanged;

-- A role granted consume on every queue claims over them.
SELECT coord.queue_grant('cw:a', 'regress_cw_other', 'consume') AS granted;
SELECT coord.queue_grant('cw:b', 'regress_cw_other', 'consume') AS granted;
SET ROLE regress_cw_other;
SELECT queue, payload FROM coord.claim(ARRAY['cw:a', 'cw:b'], 'w4');
RESET ROLE;

-- Tasks that become due later (run_at, a retry's backoff, a snooze) are
-- announced by the sweep once due: NOTIFY coord_tasks and the waiting
-- claimers' wake-up, once per queue per sweep (the NOTIFY itself is shown by
-- the isolation spec task_notify). pg_sleep lets the time pass; it proves
-- no race.
SELECT coord.queue_create('cw:d') AS created;
SELECT coord.sweep() IS NOT NULL AS settled;
SELECT coord.enqueue('cw:d', '{"n": "later"}', run_in => '30 ms') AS later \gset
SELECT coord.enqueue('cw:d', '{"n": "later too"}', run_in => '30 ms') AS later_too \gset
SELECT coord.sweep() -> 'queues_due' AS not_due_yet;
SELECT pg_sleep(0.06);
SELECT coord.sweep() -> 'queues_due' AS due_now;
SELECT coord.sweep() -> 'queues_due' AS announced_once;
SELECT task_id, token FROM coord.claim('cw:d', 'w5') \gset
SELECT coord.fail(:task_id, :token, 'again soon', retry_in => '30 ms') AS failed;
SELECT task_id, token FROM coord.claim('cw:d', 'w5') \gset
SELECT coord.snooze(:task_id, :token, run_in => '30 ms') > now() AS snoozed;
SELECT coord.sweep() -> 'queues_due' AS not_due_yet;
SELECT pg_sleep(0.06);
SELECT coord.sweep() -> 'queues_due' AS retry_and_snooze_due;
SELECT count(*) AS both_claimable FROM coord.claim('cw:d', 'w5', batch => 5);
-- A paused queue is not announced (its resume is).
SELECT coord.enqueue('cw:d', '{"n": "paused"}', run_in => '30 ms') AS paused_task \gset
SELECT coord.queue_pause('cw:d') AS paused;
SELECT pg_sleep(0.06);
SELECT coord.sweep() -> 'queues_due' AS paused_not_announced;
SELECT coord.queue_resume('cw:d') AS resumed;

SELECT coord.queue_drop(q, force => true) FROM unnest(ARRAY['cw:a', 'cw:b', 'cw:c', 'cw:d']) q;
DROP ROLE regress_cw_other;
