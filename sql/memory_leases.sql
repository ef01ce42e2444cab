-- Memory leases (coord.acquire(..., durable => false)): every lease function
-- on a memory holding, the mixed-kind rules, capacity, role binding, and
-- that a memory holding assigns no transaction id.
SELECT regress.count_tokens_from_here();

-- regress.error_with_hint(sql): as regress.error_of, with the hint.
CREATE FUNCTION regress.error_with_hint(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    code text; message text; hint text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN code || ': ' || message || COALESCE(' | hint: ' || NULLIF(hint, ''), '');
END
$$;

-- Memory tokens come from blocks of the allocator's counter reserved ahead,
-- so how far a token is past the start depends on block boundaries: errors
-- show tokens as #N.
CREATE FUNCTION regress.mem_error_of(statement text) RETURNS text
LANGUAGE sql AS $$ SELECT regexp_replace(regress.error_of(statement), '#-?[0-9]+', '#N', 'g') $$;

-- The GUC: postmaster context, default 10 000.
SELECT name, setting, context FROM pg_settings WHERE name = 'coord.memory_leases';

-- Acquire: a token larger than every token before; the holder retrying gets
-- the same token and a later expiry; another owner gets NULL.
SELECT coord.acquire('mem:a', 'w-1', '1 hour', durable => false) AS m1 \gset
SELECT :m1 > (SELECT token FROM regress.token_start) AS larger_than_before;
SELECT coord.acquire('mem:a', 'w-1', '2 hours', durable => false) = :m1 AS same_token;
SELECT coord.acquire('mem:a', 'w-2', durable => false) IS NULL AS busy;
SELECT name, owner, holder_role, token = :m1 AS token_shown, expired, durable,
       expires_at - acquired_at > '1 hour 59 minutes' AS extended
FROM coord.leases WHERE name = 'mem:a';
-- Nothing of it is in the table.
SELECT count(*) AS rows_in_lease_state FROM coord.lease_state WHERE name = 'mem:a';

-- A memory holding assigns no transaction id (the block of tokens it takes
-- from is already reserved: the acquire above reserved it).
BEGIN;
SELECT coord.acquire('mem:xid', 'w-1', '1 hour', durable => false) IS NOT NULL AS acquired;
SELECT coord.renew('mem:xid', (SELECT token FROM coord.leases WHERE name = 'mem:xid'), '1 hour')
       IS NOT NULL AS renewed;
SELECT coord.check_fence('mem:xid', (SELECT token FROM coord.leases WHERE name = 'mem:xid'));
SELECT coord.release('mem:xid', (SELECT token FROM coord.leases WHERE name = 'mem:xid')) AS released;
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_xid;
COMMIT;

-- Mixed kinds: a name held in memory is busy for a durable acquire, and a
-- name held durably is busy for a memory acquire (NULL, nothing changes).
SELECT coord.acquire('mem:a', 'w-2') IS NULL AS durable_acquire_busy;
SELECT coord.acquire('mem:a', 'w-1') IS NULL AS durable_acquire_by_holder_busy;
SELECT count(*) AS rows_in_lease_state FROM coord.lease_state WHERE name = 'mem:a';
SELECT coord.acquire('dur:a', 'w-1', '1 hour') AS d1 \gset
SELECT coord.acquire('dur:a', 'w-2', durable => false) IS NULL AS memory_acquire_busy;
SELECT coord.acquire('dur:a', 'w-1', durable => false) IS NULL AS memory_acquire_by_holder_busy;
SELECT name, owner, durable FROM coord.leases WHERE name IN ('mem:a', 'dur:a') ORDER BY name;
-- After the durable holding ends, a memory holding of the name gets a larger token.
SELECT coord.release('dur:a', :d1) AS released;
SELECT coord.acquire('dur:a', 'w-2', durable => false) AS m2 \gset
SELECT :m2 > :d1 AS larger_than_durable;
-- ... and after it ends, a durable holding a larger token again.
SELECT coord.release('dur:a', :m2) AS released;
SELECT coord.acquire('dur:a', 'w-3') AS d2 \gset
SELECT :d2 > :m2 AS durable_larger_than_memory;
SELECT coord.release('dur:a', :d2) AS released;
-- Memory cycles on the name, then a durable holding again: the memory
-- acquire sees it (busy), and after it a larger token.
SELECT coord.release('dur:a', coord.acquire('dur:a', 'w-4', durable => false)) AS memory_cycle;
SELECT coord.acquire('dur:a', 'w-5') AS d3 \gset
SELECT coord.acquire('dur:a', 'w-6', durable => false) IS NULL AS memory_acquire_busy;
SELECT coord.release('dur:a', :d3) AS released;
SELECT coord.acquire('dur:a', 'w-6', durable => false) > :d3 AS larger_than_durable;
SELECT coord.force_release('dur:a') AS forced;

-- Renew extends; a stale token is PC001 and changes nothing.
SELECT expires_at AS expiry_before FROM coord.leases WHERE name = 'mem:a' \gset
SELECT coord.renew('mem:a', :m1, '3 hours') - now() > '2 hours 59 minutes' AS renewed;
SELECT expires_at AS expiry_before FROM coord.leases WHERE name = 'mem:a' \gset
SELECT regress.mem_error_of($$SELECT coord.renew('mem:a', $$ || :m1 + 1 || ')');
SELECT expires_at = :'expiry_before' AS expiry_unchanged FROM coord.leases WHERE name = 'mem:a';

-- check_fence: passes for the holder; a stale token is PC001 and the
-- protected write rolls back with it.
CREATE TABLE regress.mem_charges (account text, amount numeric);
SELECT coord.check_fence('mem:a', :m1);
SELECT regress.mem_error_of($$
    WITH fenced AS (SELECT coord.check_fence('mem:a', $$ || :m1 + 1 || $$))
    INSERT INTO regress.mem_charges SELECT 'acct-1', 10 FROM fenced$$);
SELECT count(*) AS charges_written FROM regress.mem_charges;
INSERT INTO regress.mem_charges SELECT 'acct-1', 10 FROM (SELECT coord.check_fence('mem:a', :m1)) f;
SELECT count(*) AS charges_written FROM regress.mem_charges;

-- Release: only the current token frees it.
SELECT coord.release('mem:a', :m1 + 1) AS wrong_token_released;
SELECT coord.release('mem:a', :m1) AS released;
SELECT coord.release('mem:a', :m1) AS released_twice;
SELECT count(*) AS holders FROM coord.leases WHERE name = 'mem:a';
SELECT regress.mem_error_of($$SELECT coord.check_fence('mem:a', $$ || :m1 || ')');
-- The next holding gets a larger token.
SELECT coord.acquire('mem:a', 'w-2', durable => false) AS m3 \gset
SELECT :m3 > :m1 AS larger;

-- Expiry: a lapsed memory holding is taken over (either kind) with a larger
-- token; the old holder can no longer renew, release or pass the fence.
SELECT coord.acquire('mem:expiring', 'w-1', '1 millisecond', durable => false) AS e1 \gset
SELECT pg_sleep(0.01);
SELECT name, owner, expired, durable FROM coord.leases WHERE name = 'mem:expiring';
SELECT regress.mem_error_of($$SELECT coord.renew('mem:expiring', $$ || :e1 || ')');
SELECT coord.release('mem:expiring', :e1) AS released_expired;
SELECT regress.mem_error_of($$SELECT coord.check_fence('mem:expiring', $$ || :e1 || ')');
SELECT coord.acquire('mem:expiring', 'w-2', '1 millisecond', durable => false) AS e2 \gset
SELECT :e2 > :e1 AS taken_over_larger;
SELECT pg_sleep(0.01);
SELECT coord.acquire('mem:expiring', 'w-3') AS e3 \gset
SELECT :e3 > :e2 AS durable_takeover_larger;
SELECT name, owner, durable FROM coord.leases WHERE name = 'mem:expiring';
SELECT coord.release('mem:expiring', :e3) AS released;

-- force_release (superuser here): ends a memory holding; the next holder
-- still gets a larger token.
SELECT coord.force_release('mem:a') AS forced;
SELECT coord.force_release('mem:a') AS forced_again;
SELECT regress.mem_error_of($$SELECT coord.check_fence('mem:a', $$ || :m3 || ')');
SELECT coord.acquire('mem:a', 'w-1', durable => false) > :m3 AS larger_after_force;

-- Bad input: clear SQLSTATE, nothing changed.
SELECT regress.mem_error_of($$SELECT coord.acquire('mem:bad', 'w-1', '1 hour', durable => NULL)$$);
SELECT regress.mem_error_of($$SELECT coord.acquire('mem:bad', 'w-1', '1 hour', '-1 second', false)$$);
SELECT regress.mem_error_of($$SELECT coord.acquire('', 'w-1', durable => false)$$);
SELECT regress.mem_error_of($$SELECT coord.acquire('mem:bad', NULL, durable => false)$$);
SELECT regress.mem_error_of($$SELECT coord.acquire('mem:bad', 'w-1', '0', durable => false)$$);
SELECT regress.mem_error_of($$SELECT coord.acquire(repeat('n', 257), 'w-1', durable => false)$$);
SELECT count(*) AS bad_holdings FROM coord.leases WHERE name = 'mem:bad';
-- A read-only transaction cannot take one (25006), as a durable acquire.
BEGIN READ ONLY;
SELECT regress.mem_error_of($$SELECT coord.acquire('mem:read:only', 'w-1', durable => false)$$);
ROLLBACK;
SELECT count(*) AS read_only_holdings FROM coord.leases WHERE name = 'mem:read:only';

-- A memory holding takes effect at once, not at commit: a rollback does not
-- undo it (as pg_advisory_lock); release it, or let it expire.
BEGIN;
SELECT coord.acquire('mem:rollback', 'w-1', durable => false) AS rb \gset
ROLLBACK;
SELECT owner, durable FROM coord.leases WHERE name = 'mem:rollback';
SELECT coord.release('mem:rollback', :rb) AS released;

-- Role binding: a holding belongs to the role that took it (42501 for
-- another role, nothing changed); coord_admin may act on it.
CREATE ROLE regress_mem_a LOGIN;
CREATE ROLE regress_mem_b LOGIN;
CREATE ROLE regress_mem_ops LOGIN;
GRANT coord_user TO regress_mem_a, regress_mem_b;
GRANT coord_admin TO regress_mem_ops;
GRANT USAGE ON SCHEMA regress TO regress_mem_a, regress_mem_b, regress_mem_ops;
SET ROLE regress_mem_a;
SELECT coord.acquire('mem:roles', 'shared-owner', '1 hour', durable => false) AS r1 \gset
SELECT name, holder_role, token = :r1 AS token_shown, durable FROM coord.leases WHERE name = 'mem:roles';
SET ROLE regress_mem_b;
SELECT name, holder_role, token IS NULL AS token_hidden, durable FROM coord.leases WHERE name = 'mem:roles';
SELECT regress.mem_error_of($$SELECT coord.acquire('mem:roles', 'shared-owner', durable => false)$$);
SELECT regress.mem_error_of($$SELECT coord.renew('mem:roles', $$ || :r1 || ')');
SELECT regress.mem_error_of($$SELECT coord.release('mem:roles', $$ || :r1 || ')');
SELECT regress.mem_error_of($$SELECT coord.check_fence('mem:roles', $$ || :r1 || ')');
SELECT regress.mem_error_of($$SELECT coord.force_release('mem:roles')$$);
SET ROLE regress_mem_a;
SELECT owner, holder_role, token = :r1 AS same_holding FROM coord.leases WHERE name = 'mem:roles';
SELECT coord.check_fence('mem:roles', :r1);
SET ROLE regress_mem_ops;
SELECT coord.renew('mem:roles', :r1) IS NOT NULL AS admin_renewed;
SELECT coord.force_release('mem:roles') AS admin_forced;
RESET ROLE;
-- PUBLIC cannot call the new functions.
SELECT has_function_privilege('public', 'coord.acquire(text, text, interval, interval, boolean)', 'EXECUTE') AS public_acquire,
       has_function_privilege('public', 'coord.memory_lease_holdings()', 'EXECUTE') AS public_listing,
       has_function_privilege('coord_user', 'coord.memory_lease_holdings()', 'EXECUTE') AS user_listing;

-- Capacity: coord.memory_leases live holdings at once; one more is 53400
-- with a hint, and nothing changes. Expired holdings are reclaimed by the
-- next acquire that needs room (no sweep).
SELECT coord.force_release('mem:a') AS forced;
SELECT count(*) AS memory_holdings FROM coord.leases WHERE NOT durable;
SELECT count(coord.acquire('cap:' || i, 'w', '1 hour', durable => false)) AS taken
FROM generate_series(1, current_setting('coord.memory_leases')::int - 1) i;
SELECT regress.error_with_hint($$SELECT coord.acquire('cap:last', 'w', durable => false) IS NOT NULL$$);
SELECT regress.error_with_hint($$SELECT coord.acquire('cap:extra', 'w', durable => false)$$);
SELECT count(*) AS memory_holdings, count(*) FILTER (WHERE name = 'cap:extra') AS extra
FROM coord.leases WHERE NOT durable;
-- A durable acquire is not limited by it.
SELECT coord.acquire('cap:durable', 'w') IS NOT NULL AS durable_still_possible;
SELECT coord.force_release('cap:durable') AS forced;
-- Release them all; take them again with a short TTL; once they have
-- expired, a new holding reclaims the room.
SELECT count(*) FILTER (WHERE coord.release(name, token)) AS released
FROM coord.leases WHERE NOT durable;
SELECT count(coord.acquire('cap:' || i, 'w', '1 millisecond', durable => false)) AS taken
FROM generate_series(1, current_setting('coord.memory_leases')::int) i;
SELECT pg_sleep(0.01);
SELECT coord.acquire('cap:extra', 'w', durable => false) IS NOT NULL AS reclaimed;
SELECT count(*) AS memory_holdings FROM coord.leases WHERE NOT durable;
SELECT coord.force_release('cap:extra') AS forced;

-- acquire_all(..., durable => false): every name in memory, all or nothing,
-- one row per distinct name in canonical order; no WAL, no transaction id.
SELECT count(*) FILTER (WHERE coord.release(name, token)) >= 0 AS cleared
FROM coord.leases WHERE NOT durable;
BEGIN;
SELECT array_agg(name ORDER BY name) AS names, count(DISTINCT token) AS tokens,
       bool_and(token > (SELECT token FROM regress.token_start)) AS larger_than_before
FROM coord.acquire_all(ARRAY['all:c', 'all:a', 'all:c'], 'w-1', '1 hour', durable => false);
SELECT pg_current_xact_id_if_assigned() IS NULL AS no_xid;
COMMIT;
SELECT name, owner, durable, expired FROM coord.leases WHERE name LIKE 'all:%' ORDER BY name;
SELECT count(*) AS rows_in_lease_state FROM coord.lease_state WHERE name LIKE 'all:%';
-- Tokens in name order, each larger than the one before.
SELECT (SELECT token FROM coord.leases WHERE name = 'all:a') <
       (SELECT token FROM coord.leases WHERE name = 'all:c') AS in_name_order;
-- The holder's retry: the same tokens, later expiry.
CREATE TABLE regress.all_before AS SELECT name, token, expires_at FROM coord.leases WHERE name LIKE 'all:%';
SELECT bool_and(a.token = b.token) AS same_tokens, count(*) AS names
FROM coord.acquire_all(ARRAY['all:a', 'all:c'], 'w-1', '2 hours', durable => false) a
JOIN regress.all_before b USING (name);
SELECT bool_and(l.expires_at > b.expires_at) AS extended
FROM coord.leases l JOIN regress.all_before b USING (name);
-- Another owner: no row, nothing changed (the free name of the set is not
-- taken either).
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['all:a', 'all:b'], 'w-2', durable => false);
SELECT name, owner FROM coord.leases WHERE name LIKE 'all:%' ORDER BY name;
-- A refused set uses up no token: the next memory token is the next one.
SELECT coord.acquire('all:t1', 'w-2', durable => false) AS t1 \gset
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['all:b', 'all:c'], 'w-2', durable => false);
SELECT coord.acquire('all:t2', 'w-2', durable => false) AS t2 \gset
SELECT :t2 - :t1 AS tokens_used_between;
-- Mixed kinds: a name held durably is busy for a memory set (and the holder
-- of it, too: one kind per name); a name held in memory is busy for a
-- durable set.
SELECT coord.acquire('all:dur', 'w-3') AS d1 \gset
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['all:b', 'all:dur'], 'w-3', durable => false);
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['all:b', 'all:c'], 'w-3');
SELECT name, owner, durable FROM coord.leases WHERE name IN ('all:b', 'all:c', 'all:dur') ORDER BY name;
SELECT coord.release('all:dur', :d1) AS released;
-- A refused durable set may use up the token of a name tried before the
-- refused one (its row write rolled back): a gap, never a repeat.
SELECT coord.acquire('all:d-before', 'w-3') AS db \gset
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['all:a0', 'all:c'], 'w-3');
SELECT coord.acquire('all:d-after', 'w-3') AS da \gset
SELECT :da - :db AS durable_tokens_used_between, :da > :db AS still_larger;
SELECT count(*) AS a0_rows FROM coord.lease_state WHERE name = 'all:a0';
-- Release each one; the next set gets larger tokens.
SELECT count(*) FILTER (WHERE coord.release(name, token)) AS released
FROM coord.leases WHERE name LIKE 'all:%';
SELECT bool_and(token > (SELECT max(token) FROM regress.all_before)) AS larger
FROM coord.acquire_all(ARRAY['all:a', 'all:c'], 'w-2', durable => false);

-- acquire_all bad input: clear SQLSTATE, nothing changed.
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:x'], 'w-1', durable => NULL)$$);
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:x'], 'w-1', '1 hour', '-1 second', false)$$);
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:x', NULL], 'w-1', durable => false)$$);
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all('{}', 'w-1', durable => false)$$);
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:x', ''], 'w-1', durable => false)$$);
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:x'], NULL, durable => false)$$);
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:x'], 'w-1', '0', durable => false)$$);
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(
    (SELECT array_agg('all:x' || i) FROM generate_series(1, 101) i), 'w-1', durable => false)$$);
BEGIN READ ONLY;
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:x'], 'w-1', durable => false)$$);
ROLLBACK;
SELECT count(*) AS bad_holdings FROM coord.leases WHERE name LIKE 'all:x%';

-- Role binding: the owner's holding under another role is 42501 for the
-- whole set, nothing changed.
SET ROLE regress_mem_a;
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['all:r1'], 'shared-owner', durable => false);
SET ROLE regress_mem_b;
SELECT regress.mem_error_of($$SELECT * FROM coord.acquire_all(ARRAY['all:r0', 'all:r1'], 'shared-owner', durable => false)$$);
SELECT name, holder_role FROM coord.leases WHERE name LIKE 'all:r%' ORDER BY name;
RESET ROLE;
SELECT has_function_privilege('public', 'coord.acquire_all(text[], text, interval, interval, boolean)', 'EXECUTE') AS public_acquire_all,
       has_function_privilege('coord_user', 'coord.acquire_all(text[], text, interval, interval, boolean)', 'EXECUTE') AS user_acquire_all;

-- Capacity: a set that does not fit is 53400 and takes none of its names;
-- one that fits is taken.
SELECT count(*) FILTER (WHERE coord.force_release(name)) >= 0 AS cleared
FROM coord.leases WHERE NOT durable;
SELECT count(coord.acquire('cap:' || i, 'w', '1 hour', durable => false)) AS taken
FROM generate_series(1, current_setting('coord.memory_leases')::int - 1) i;
SELECT regress.error_with_hint($$SELECT count(*) FROM coord.acquire_all(ARRAY['cap:x1', 'cap:x2'], 'w', durable => false)$$);
SELECT count(*) AS set_holdings FROM coord.leases WHERE name LIKE 'cap:x%';
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['cap:1', 'cap:x1'], 'w', durable => false);
SELECT count(*) FILTER (WHERE coord.force_release(name)) AS forced
FROM coord.leases WHERE NOT durable;

-- Waiting (wait_for > 0) for memory holdings: the queue of durable leases
-- (isolation spec memory_lease_waiting shows FIFO, wake-ups, deadlocks and
-- cancels). A wait that runs out returns NULL / no row and leaves nothing
-- queued or held; REPEATABLE READ is 55000 as for durable waits.
SELECT coord.acquire('mwait:m', 'w-1', durable => false) AS wm \gset
SELECT coord.acquire('mwait:m', 'w-2', wait_for => '30 milliseconds', durable => false) IS NULL AS ran_out;
SELECT count(*) AS rows FROM coord.acquire_all(ARRAY['mwait:m', 'mwait:n'], 'w-2', wait_for => '30 milliseconds', durable => false);
SELECT count(*) AS queued FROM coord.waiters;
SELECT name, owner FROM coord.leases WHERE name LIKE 'mwait:%' ORDER BY name;
-- The holder's own wait extends at once.
SELECT coord.acquire('mwait:m', 'w-1', wait_for => '1 second', durable => false) = :wm AS same_token;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT regress.mem_error_of($$SELECT coord.acquire('mwait:m', 'w-2', wait_for => '1 second', durable => false)$$);
ROLLBACK;
-- Free: a wait takes it at once, in memory.
SELECT coord.release('mwait:m', :wm) AS released;
SELECT coord.acquire('mwait:m', 'w-2', wait_for => '1 second', durable => false) > :wm AS larger;
SELECT name, owner, durable FROM coord.leases WHERE name LIKE 'mwait:%' ORDER BY name;
SELECT count(*) FILTER (WHERE coord.force_release(name)) AS forced FROM coord.leases WHERE name LIKE 'mwait:%';
