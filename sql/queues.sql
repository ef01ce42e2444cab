-- Explicit queues (issue 12): queue_create, queue_alter, queue_pause,
-- queue_resume, queue_drop and the view coord.queues. Every refused call
-- changes nothing (the digest of the queue tables and the tasks is the same).
CREATE FUNCTION regress.queue_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(format('%s|%s|%s|%s|%s|%s|%s', q.queue, q.max_attempts,
                                                  q.retention, q.backoff_max, q.notify, q.paused,
                                                  q.created_by), ';' ORDER BY q.queue)
                         FROM coord.queue_state q), '') ||
               COALESCE((SELECT string_agg(format('%s|%s|%s', g.queue, g.role, g.privilege), ';'
                                           ORDER BY g.queue, g.privilege, g.role)
                         FROM coord.queue_grants g), '') ||
               COALESCE((SELECT string_agg(format('%s|%s|%s', t.id, t.queue, t.state), ';' ORDER BY t.id)
                         FROM coord.tasks t), ''))
$$;
CREATE ROLE regress_q_owner;
CREATE ROLE regress_q_other;
GRANT coord_user TO regress_q_owner, regress_q_other;

-- queue_create: true when created, false when it exists with the same settings.
SET ROLE regress_q_owner;
SELECT coord.queue_create('q:mail') AS created;
SELECT coord.queue_create('q:mail') AS created_again;
SELECT coord.queue_create('q:mail', max_attempts => 5, retention => '7 days', backoff_max => '1 hour',
                          notify => true) AS same_settings;
SELECT coord.queue_create('q:slow', max_attempts => 3, retention => '1 day', backoff_max => '5 minutes',
                          notify => false) AS created;
SELECT queue, max_attempts, retention, backoff_max, notify, paused, created_by, pending, processing,
       dead, complete
FROM coord.queues WHERE queue LIKE 'q:%' ORDER BY queue;
RESET ROLE;

-- Bad arguments: a clear SQLSTATE naming the argument, nothing created or changed.
SELECT regress.queue_digest() AS digest \gset
SET ROLE regress_q_owner;
SELECT regress.error_of($$SELECT coord.queue_create('q:mail', max_attempts => 3)$$);
SELECT regress.error_of($$SELECT coord.queue_create(NULL)$$);
SELECT regress.error_of($$SELECT coord.queue_create('')$$);
SELECT regress.error_of(format('SELECT coord.queue_create(%L)', repeat('q', 129)));
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', max_attempts => 0)$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', max_attempts => 1001)$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', max_attempts => NULL)$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', retention => '-1 second')$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', retention => '3651 days')$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', retention => NULL)$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', backoff_max => '0')$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', backoff_max => '31 days')$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:bad', notify => NULL)$$);
SELECT regress.error_of($$SELECT coord.queue_alter('q:mail', max_attempts => 0)$$);
SELECT regress.error_of($$SELECT coord.queue_alter('q:mail', retention => '-1 day')$$);
SELECT regress.error_of($$SELECT coord.queue_alter('q:mail', backoff_max => '-1 day')$$);
SELECT regress.error_of($$SELECT coord.queue_alter(NULL, max_attempts => 2)$$);
SELECT regress.error_of($$SELECT coord.queue_alter('q:none', max_attempts => 2)$$);
SELECT regress.error_of($$SELECT coord.queue_pause('q:none')$$);
SELECT regress.error_of($$SELECT coord.queue_resume('q:none')$$);
SELECT regress.error_of($$SELECT coord.queue_drop('q:none')$$);
SELECT regress.error_of($$SELECT coord.queue_drop('q:mail', force => NULL)$$);
-- Unknown queues: enqueue and claim are 42704, the hint names coord.queue_create.
DO $$
DECLARE hint text;
BEGIN
    PERFORM coord.enqueue('q:mial', '{}');
EXCEPTION WHEN undefined_object THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RAISE NOTICE 'enqueue into q:mial: %', hint;
END $$;
SELECT regress.error_of($$SELECT * FROM coord.claim('q:mial', 'w')$$);
RESET ROLE;
SELECT regress.queue_digest() = :'digest' AS unchanged;

-- Another role (not coord_admin) may not alter, pause, resume or drop it.
SET ROLE regress_q_other;
SELECT regress.error_of($$SELECT coord.queue_alter('q:mail', max_attempts => 2)$$);
SELECT regress.error_of($$SELECT coord.queue_pause('q:mail')$$);
SELECT regress.error_of($$SELECT coord.queue_resume('q:mail')$$);
SELECT regress.error_of($$SELECT coord.queue_drop('q:slow')$$);
SELECT regress.error_of($$SELECT coord.queue_create('q:mail')$$) AS create_existing;
RESET ROLE;
SELECT regress.queue_digest() = :'digest' AS unchanged;

-- queue_alter: the settings given change, NULL ones stay; false when nothing changed.
SET ROLE regress_q_owner;
SELECT coord.queue_alter('q:mail', max_attempts => 8, backoff_max => '10 minutes') AS altered;
SELECT coord.queue_alter('q:mail', max_attempts => 8) AS altered_again;
SELECT coord.queue_alter('q:mail') AS nothing_given;
SELECT queue, max_attempts, retention, backoff_max, notify FROM coord.queues WHERE queue = 'q:mail';

-- queue_pause: the queue still accepts tasks, claims return none until resumed.
SELECT coord.enqueue('q:mail', '{"n": 1}') AS paused_task \gset
SELECT coord.queue_pause('q:mail') AS paused;
SELECT coord.queue_pause('q:mail') AS paused_again;
SELECT coord.enqueue('q:mail', '{"n": 2}') > 0 AS enqueued_while_paused;
SELECT count(*) AS claimed_while_paused FROM coord.claim('q:mail', 'w', batch => 10);
SELECT queue, paused, pending, processing FROM coord.queues WHERE queue = 'q:mail';
SELECT coord.queue_resume('q:mail') AS resumed;
SELECT coord.queue_resume('q:mail') AS resumed_again;
SELECT task_id = :paused_task AS first_claimed, token AS paused_token
FROM coord.claim('q:mail', 'w') \gset
SELECT :'first_claimed' AS first_claimed;
SELECT queue, paused, pending, processing FROM coord.queues WHERE queue = 'q:mail';
RESET ROLE;

-- queue_drop: refused while tasks are pending or processing (55006, nothing
-- changed); force drops the queue with its tasks and grants.
SELECT regress.queue_digest() AS digest \gset
SET ROLE regress_q_owner;
SELECT regress.error_of($$SELECT coord.queue_drop('q:mail')$$);
RESET ROLE;
SELECT regress.queue_digest() = :'digest' AS unchanged;
SET ROLE regress_q_owner;
SELECT coord.complete(:paused_task, :paused_token) AS completed;
SELECT coord.queue_grant('q:mail', 'regress_q_other', 'observe') AS granted;
SELECT coord.queue_drop('q:mail', force => true) AS dropped;
SELECT regress.error_of($$SELECT coord.enqueue('q:mail', '{}')$$) AS after_drop;
-- An empty queue drops without force.
SELECT coord.queue_drop('q:slow') AS dropped;
RESET ROLE;
SELECT count(*) AS queues_left FROM coord.queue_state WHERE queue LIKE 'q:%';
SELECT count(*) AS grants_left FROM coord.queue_grants WHERE queue LIKE 'q:%';
SELECT count(*) AS tasks_left FROM coord.tasks WHERE queue LIKE 'q:%';
SELECT count(*) AS completed_left FROM coord.tasks_complete WHERE queue LIKE 'q:%';

-- coord_admin may manage another role's queue.
SET ROLE regress_q_owner;
SELECT coord.queue_create('q:admin') AS created;
RESET ROLE;
GRANT coord_admin TO regress_q_other;
SET ROLE regress_q_other;
SELECT coord.queue_pause('q:admin') AS admin_paused;
SELECT coord.queue_alter('q:admin', notify => false) AS admin_altered;
SELECT coord.queue_drop('q:admin') AS admin_dropped;
RESET ROLE;

DROP FUNCTION regress.queue_digest();
DROP ROLE regress_q_owner, regress_q_other;
