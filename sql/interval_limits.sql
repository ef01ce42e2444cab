-- Every interval argument of the API is measured exactly (a month counts as
-- 30 days): an interval whose fields add up to more than 64-bit
-- microseconds is too long, never wrapped around into a small value.
-- months * 30 days of this interval wraps in 64-bit arithmetic to exactly
-- one hour more than its time field, so it used to pass as a ttl of 1 hour.
SELECT interval '178000000 years' - interval '691327189 hours' - interval '3134515200 microseconds'
    AS wraps \gset
SELECT :'wraps'::interval AS wraps,
       EXTRACT(epoch FROM :'wraps'::interval) / (365.25 * 86400) > 1e8 AS more_than_a_hundred_million_years;

-- What every call below must leave alone: the leases and the tasks.
CREATE FUNCTION regress.interval_state() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(l::text, ';' ORDER BY l.name) FROM coord.lease_state l), '') ||
               COALESCE((SELECT string_agg(t::text, ';' ORDER BY t.id) FROM coord.tasks t), '') ||
               COALESCE((SELECT string_agg(a::text, ';' ORDER BY a.task_id, a.attempt)
                         FROM coord.task_attempts a), '') ||
               COALESCE((SELECT string_agg(e::text, ';' ORDER BY e.election)
                         FROM coord.election_state e), ''))
$$;
SELECT coord.acquire('iv:held', 'iv-owner', ttl => '1 hour') AS held_token \gset
SELECT coord.queue_create('iv') AS created;
SELECT coord.enqueue('iv', '{}') AS claimed_task \gset
SELECT token AS claim_token FROM coord.claim('iv', 'iv-worker', batch => 1) \gset
SELECT coord.enqueue('iv', '{}') AS pending_task \gset
SELECT coord.campaign('iv:held', 'iv-node', ttl => '1 hour') AS held_term \gset
SELECT id = :claimed_task AS claimed, state FROM coord.tasks WHERE queue = 'iv' ORDER BY id;
SELECT regress.interval_state() AS digest \gset

-- acquire: ttl and wait_for, for a new name and for the holder's own retry.
SELECT regress.error_of(format($$SELECT coord.acquire('iv:new', 'iv-owner', ttl => %L)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.acquire('iv:held', 'iv-owner', ttl => %L)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.acquire('iv:new', 'iv-owner', wait_for => %L)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.acquire('iv:new', 'iv-owner', wait_for => -%L::interval)$$, :'wraps'));
-- renew.
SELECT regress.error_of(format($$SELECT coord.renew('iv:held', %s, ttl => %L)$$, :held_token, :'wraps'));
-- acquire_all: ttl and wait_for.
SELECT regress.error_of(format($$SELECT * FROM coord.acquire_all(ARRAY['iv:new', 'iv:held'], 'iv-owner', ttl => %L)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT * FROM coord.acquire_all(ARRAY['iv:new'], 'iv-owner', wait_for => %L)$$, :'wraps'));
-- claim, heartbeat, fail.
SELECT regress.error_of(format($$SELECT * FROM coord.claim('iv', 'iv-worker', ttl => %L)$$, :'wraps'));
-- enqueue's dedupe_for (issue 12).
SELECT regress.error_of(format($$SELECT coord.enqueue('iv', '{}', dedupe_key => 'k', dedupe_for => %L)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.enqueue('iv', '{}', dedupe_key => 'k', dedupe_for => -%L::interval)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.heartbeat(%s, %s, ttl => %L)$$, :claimed_task, :claim_token, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.fail(%s, %s, 'e', retry_in => %L)$$, :claimed_task, :claim_token, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.fail(%s, %s, 'e', retry_in => -%L::interval)$$, :claimed_task, :claim_token, :'wraps'));
-- campaign: a new election and the leader's own call; leader_wait.
SELECT regress.error_of(format($$SELECT coord.campaign('iv:new', 'iv-node', ttl => %L)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT coord.campaign('iv:held', 'iv-node', ttl => %L)$$, :'wraps'));
SELECT regress.error_of(format($$SELECT * FROM coord.leader_wait('iv:held', %s, wait_for => %L)$$, :held_term, :'wraps'));
SELECT regress.error_of(format($$SELECT * FROM coord.leader_wait('iv:held', %s, wait_for => -%L::interval)$$, :held_term, :'wraps'));
SELECT regress.interval_state() = :'digest' AS unchanged;
SELECT count(*) AS new_lease_rows FROM coord.lease_state WHERE name = 'iv:new';

-- Every interval parameter of the API is covered above.
SELECT p.oid::regprocedure AS function, a.name AS interval_parameter
FROM pg_proc p, unnest(p.proargnames, COALESCE(p.proallargtypes, p.proargtypes::oid[])) AS a(name, type)
WHERE p.pronamespace = 'coord'::regnamespace AND a.type = 'interval'::regtype
ORDER BY p.oid::regprocedure::text, a.name;

-- The same limits still hold for ordinary intervals at the boundary.
SELECT coord.renew('iv:held', :held_token, ttl => '1 mon') - clock_timestamp()
    BETWEEN interval '29 days 23:59' AND interval '30 days' AS a_month_is_the_longest_ttl;
SELECT regress.error_of(format($$SELECT coord.renew('iv:held', %s, ttl => '1 mon 1 microsecond')$$, :held_token));

SELECT coord.release('iv:held', :held_token) AS released;
DELETE FROM coord.tasks WHERE queue = 'iv';
DELETE FROM coord.task_attempts WHERE task_id IN (:pending_task, :claimed_task);
DELETE FROM coord.lease_state WHERE name LIKE 'iv:%' OR name LIKE 'election:iv:%';
DELETE FROM coord.election_state WHERE election LIKE 'iv:%';
DROP FUNCTION regress.interval_state();
