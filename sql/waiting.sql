-- Waiting for leases: acquire(wait_for), acquire_all, the views and GUCs,
-- and every error path. (Concurrency is proven by the wait_* isolation specs.)

-- The GUCs and their defaults.
SHOW coord.deadlock_timeout;
SHOW coord.queue_depth_alert;
SHOW coord.max_wait_slots;

-- Nobody waits: the views are empty.
SELECT count(*) AS waiters FROM coord.waiters;
SELECT count(*) AS edges FROM coord.wait_graph;
SELECT count(*) AS deadlocks FROM coord.deadlocks;
SELECT coord.detect_deadlocks() AS cycles_broken;

-- Tokens are shown counted from here (regress.tok, sql/setup.sql).
SELECT regress.count_tokens_from_here();

-- A free lease: wait_for > 0 returns the token at once.
SELECT regress.tok(coord.acquire('wait:free', 'w-1', wait_for => '5 seconds')) AS token;
-- The holder retrying with wait_for does not queue behind anyone: same token.
SELECT regress.tok(coord.acquire('wait:free', 'w-1', wait_for => '5 seconds')) AS same_token;
-- Another owner waits the whole wait_for, then gets NULL and leaves no trace.
SELECT coord.acquire('wait:free', 'w-2', wait_for => '50 milliseconds') IS NULL AS timed_out;
SELECT count(*) AS waiters_after_timeout FROM coord.waiters;
SELECT owner, regress.tok(token) AS token FROM coord.leases WHERE name = 'wait:free';

-- Expiry wakes a waiter: nobody releases, the holding lapses, the waiter takes
-- it over with a larger token (well before its wait_for ends).
SELECT regress.tok(coord.acquire('wait:expiring', 'w-1', ttl => '200 milliseconds')) AS token;
SELECT regress.tok(coord.acquire('wait:expiring', 'w-2', wait_for => '1 minute')) AS token_after_expiry;
SELECT owner, regress.tok(token) AS token FROM coord.leases WHERE name = 'wait:expiring';

-- wait_for errors: NULL, negative, above the 1 day maximum. Nothing changes.
SELECT regress.error_of($$SELECT coord.acquire('wait:x', 'o', '1 hour', NULL)$$);
SELECT regress.error_of($$SELECT coord.acquire('wait:x', 'o', wait_for => '-1 second')$$);
SELECT regress.error_of($$SELECT coord.acquire('wait:x', 'o', wait_for => '25 hours')$$);
SELECT regress.error_of($$SELECT coord.acquire(NULL, 'o', wait_for => '1 second')$$);
SELECT regress.error_of($$SELECT coord.acquire('wait:x', '', wait_for => '1 second')$$);
SELECT count(*) AS untouched FROM coord.lease_state WHERE name = 'wait:x';
-- Waiting re-reads the lease after each wake-up: not in REPEATABLE READ.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT regress.error_of($$SELECT coord.acquire('wait:x', 'o', wait_for => '1 second')$$);
ROLLBACK;
-- wait_for = 0 is still fine there (no waiting).
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT regress.tok(coord.acquire('wait:rr', 'o')) AS token_without_wait;
ROLLBACK;

-- acquire_all: all or nothing, in canonical order (sorted, duplicates removed).
SELECT name, regress.tok(token) AS token FROM coord.acquire_all(ARRAY['db-02', 'db-01', 'db-02'], 'job-1');
SELECT name, owner, regress.tok(token) AS token FROM coord.leases WHERE name LIKE 'db-%' ORDER BY name;
-- The holder retrying gets the same tokens.
SELECT name, regress.tok(token) AS token
FROM coord.acquire_all(ARRAY['db-01', 'db-02'], 'job-1', wait_for => '1 second');
-- One name busy: no row, and the free one is not taken either.
SELECT * FROM coord.acquire_all(ARRAY['db-03', 'db-02'], 'job-2');
SELECT * FROM coord.acquire_all(ARRAY['db-03', 'db-02'], 'job-2', wait_for => '50 milliseconds');
SELECT count(*) AS db_03_holders FROM coord.leases WHERE name = 'db-03';
SELECT count(*) AS waiters_after_timeout FROM coord.waiters;
-- Once free, job-2 gets both.
SELECT coord.release('db-02', token) AS released FROM coord.lease_state WHERE name = 'db-02';
SELECT name, regress.tok(token) AS token
FROM coord.acquire_all(ARRAY['db-03', 'db-02'], 'job-2', wait_for => '1 second');

-- acquire_all errors: NULL array, NULL element, empty, bad name, too many
-- names, NULL owner, bad ttl and wait_for. Nothing changes.
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(NULL, 'o')$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['a', NULL], 'o')$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all('{}', 'o')$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['a', ''], 'o')$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['a', repeat('n', 257)], 'o')$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(
    (SELECT array_agg('n' || i) FROM generate_series(1, 101) i), 'o')$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['a'], NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['a'], 'o', '0')$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['a'], 'o', wait_for => NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['a'], 'o', wait_for => '-1 s')$$);
SELECT count(*) AS untouched FROM coord.lease_state WHERE name IN ('a', 'n1');
-- 100 distinct names is the limit, duplicates do not count.
SELECT count(*) AS taken FROM coord.acquire_all(
    (SELECT array_agg('many:' || (i % 100)) FROM generate_series(1, 300) i), 'o');

-- Privileges: coord_user may wait and read the views; only coord_admin may
-- run the whole-graph check.
CREATE ROLE regress_waiter LOGIN;
GRANT coord_user TO regress_waiter;
SET ROLE regress_waiter;
SELECT regress.tok(coord.acquire('wait:priv', 'app', wait_for => '1 second')) AS token;
SELECT name, regress.tok(token) AS token
FROM coord.acquire_all(ARRAY['wait:priv2'], 'app', wait_for => '1 second');
SELECT count(*) AS waiters FROM coord.waiters;
SELECT count(*) AS edges FROM coord.wait_graph;
SELECT count(*) AS deadlocks FROM coord.deadlocks;
SELECT regress.error_of($$SELECT coord.detect_deadlocks()$$);
SELECT regress.error_of($$SELECT * FROM coord.deadlock_history$$);
SELECT regress.error_of($$DELETE FROM coord.deadlock_history$$);
RESET ROLE;
DROP ROLE regress_waiter;

-- coord.waiters shows every column coord.waiting_requests() has, wait_until included.
SELECT a.attname AS view_column, f.name AS function_column
FROM (SELECT attname, attnum FROM pg_attribute
      WHERE attrelid = 'coord.waiters'::regclass AND attnum > 0) a
FULL JOIN (SELECT n AS name, i AS ord
           FROM pg_proc p, unnest(p.proargnames[1:]) WITH ORDINALITY AS u(n, i)
           WHERE p.oid = 'coord.waiting_requests()'::regprocedure) f
  ON f.name = a.attname::text
ORDER BY coalesce(a.attnum, 100 + f.ord);
