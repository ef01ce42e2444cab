-- Lease locks with fencing tokens: every function and every error path.

-- First acquire of a name: token 1. The holder retrying gets the same token.
SELECT coord.acquire('billing:daily', owner => 'i-a', ttl => '1 hour') AS token;
SELECT coord.acquire('billing:daily', owner => 'i-a', ttl => '2 hours') AS same_token;
SELECT name, owner, token, expired, expires_at - acquired_at > '1 hour 59 minutes' AS extended
FROM coord.leases;
-- Another owner gets NULL while the lease is held.
SELECT coord.acquire('billing:daily', 'i-b') IS NULL AS busy;
-- Release: only the current token frees it.
SELECT coord.release('billing:daily', 99) AS wrong_token_released;
SELECT coord.release('billing:daily', 1) AS released;
SELECT coord.release('billing:daily', 1) AS released_twice;
SELECT count(*) AS holders FROM coord.leases;
-- The next holding gets a larger token, even after a release.
SELECT coord.acquire('billing:daily', 'i-b') AS token_after_release;

-- Renew extends; a stale token is lease_lost (PC001) and changes nothing.
SELECT coord.renew('billing:daily', 2, '3 hours') - now() > '2 hours 59 minutes' AS renewed;
SELECT regress.error_of($$SELECT coord.renew('billing:daily', 1)$$);
SELECT regress.error_of($$SELECT coord.renew('never:acquired', 1)$$);
SELECT owner, token FROM coord.leases WHERE name = 'billing:daily';

-- check_fence passes for the holder, raises PC001 for anything else.
SELECT coord.check_fence('billing:daily', 2);
SELECT regress.error_of($$SELECT coord.check_fence('billing:daily', 1)$$);
SELECT regress.error_of($$SELECT coord.check_fence('no:such:lease', 1)$$);
-- A read-only transaction can neither take the fence's share lock nor change
-- a lease (25006, as for SELECT ... FOR SHARE and UPDATE); nothing changes.
SELECT expires_at AS expiry_before FROM coord.lease_state WHERE name = 'billing:daily' \gset
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT coord.check_fence('billing:daily', 2)$$);
SELECT regress.error_of($$SELECT coord.renew('billing:daily', 2)$$);
ROLLBACK;
SELECT owner, token, expires_at = :'expiry_before' AS expiry_unchanged
FROM coord.lease_state WHERE name = 'billing:daily';

-- A stale holder's protected write rolls back with the fence check.
CREATE TABLE regress.charges (account text, amount numeric);
SELECT regress.error_of($$
    WITH fenced AS (SELECT coord.check_fence('billing:daily', 1))
    INSERT INTO regress.charges SELECT 'acct-1', 10 FROM fenced$$);
SELECT count(*) AS charges_written FROM regress.charges;
-- The current holder's write goes through.
INSERT INTO regress.charges SELECT 'acct-1', 10 FROM (SELECT coord.check_fence('billing:daily', 2)) f;
SELECT count(*) AS charges_written FROM regress.charges;

-- Expiry: a lapsed holding is taken over with a larger token; the old
-- holder can no longer renew, release or pass the fence.
SELECT coord.acquire('job:expiring', 'w-1', '1 millisecond') AS token;
SELECT pg_sleep(0.01);
SELECT name, owner, token, expired FROM coord.leases WHERE name = 'job:expiring';
SELECT regress.error_of($$SELECT coord.renew('job:expiring', 1)$$);
SELECT coord.release('job:expiring', 1) AS expired_release;
SELECT coord.acquire('job:expiring', 'w-2') AS takeover_token;
SELECT regress.error_of($$SELECT coord.check_fence('job:expiring', 1)$$);
-- The same owner whose holding lapsed also gets a new token.
SELECT coord.acquire('job:lapsed', 'w-1', '1 millisecond') AS token;
SELECT pg_sleep(0.01);
SELECT coord.acquire('job:lapsed', 'w-1') AS new_token_same_owner;

-- force_release (superuser here): frees a live holding, keeps the token sequence.
SELECT coord.force_release('job:expiring') AS forced;
SELECT coord.force_release('job:expiring') AS forced_again;
SELECT coord.force_release('never:acquired') AS forced_unknown;
SELECT coord.acquire('job:expiring', 'w-3') AS token_after_force;

-- A holding's transaction commits synchronously even if the session does not.
BEGIN;
SET LOCAL synchronous_commit = off;
SELECT coord.acquire('durable:token', 'w-1') AS token;
SHOW synchronous_commit;
COMMIT;

-- Bad input: 22004 for NULL, 22023 for bad values, each naming the
-- parameter; nothing changes.
CREATE TEMP TABLE before AS SELECT * FROM coord.lease_state;
SELECT regress.error_of($$SELECT coord.acquire(NULL, 'o')$$);
SELECT regress.error_of($$SELECT coord.acquire('', 'o')$$);
SELECT regress.error_of($$SELECT coord.acquire(repeat('n', 257), 'o')$$);
SELECT coord.acquire(repeat('n', 256), 'o') IS NOT NULL AS longest_name_ok;
SELECT coord.force_release(repeat('n', 256));
DELETE FROM before; INSERT INTO before SELECT * FROM coord.lease_state;
SELECT regress.error_of($$SELECT coord.acquire('x', NULL)$$);
SELECT regress.error_of($$SELECT coord.acquire('x', '')$$);
SELECT regress.error_of($$SELECT coord.acquire('x', repeat('o', 257))$$);
SELECT regress.error_of($$SELECT coord.acquire('x', 'o', NULL)$$);
SELECT regress.error_of($$SELECT coord.acquire('x', 'o', '0')$$);
SELECT regress.error_of($$SELECT coord.acquire('x', 'o', '-1 second')$$);
SELECT regress.error_of($$SELECT coord.acquire('x', 'o', '31 days')$$);
SELECT regress.error_of($$SELECT coord.renew('billing:daily', NULL)$$);
SELECT regress.error_of($$SELECT coord.renew(NULL, 2)$$);
SELECT regress.error_of($$SELECT coord.renew('billing:daily', 2, '0')$$);
SELECT regress.error_of($$SELECT coord.release('billing:daily', NULL)$$);
SELECT regress.error_of($$SELECT coord.release('', 2)$$);
SELECT regress.error_of($$SELECT coord.check_fence('billing:daily', NULL)$$);
SELECT regress.error_of($$SELECT coord.force_release(NULL)$$);
SELECT count(*) AS rows_changed FROM (
    (SELECT * FROM coord.lease_state EXCEPT SELECT * FROM before)
    UNION ALL
    (SELECT * FROM before EXCEPT SELECT * FROM coord.lease_state)) changed;

-- Many names with mixed case and punctuation: every holder finds its own
-- lease again (the look-up follows the index's collation, here ICU).
SELECT datcollate, daticulocale FROM pg_database WHERE datname = current_database();
SELECT count(*) AS first_holdings FROM generate_series(1, 300) i
WHERE coord.acquire('Mixed-' || md5(i::text) || CASE WHEN i % 2 = 0 THEN ':a' ELSE '_B' END,
                    'many') IS NOT NULL;
SELECT count(*) AS same_token_again FROM generate_series(1, 300) i
WHERE coord.acquire('Mixed-' || md5(i::text) || CASE WHEN i % 2 = 0 THEN ':a' ELSE '_B' END,
                    'many') = 1;
SELECT count(*) AS released FROM generate_series(1, 300) i
WHERE coord.release('Mixed-' || md5(i::text) || CASE WHEN i % 2 = 0 THEN ':a' ELSE '_B' END, 1);

-- Row versions that no longer fit on their page (non-HOT updates) get index
-- entries: thousands of changes in one transaction (nothing can be pruned),
-- then amcheck verifies that every row version is reachable from the index.
CREATE EXTENSION amcheck;
DO $$
DECLARE t bigint;
BEGIN
    FOR i IN 1..3000 LOOP
        t := coord.acquire('churn:' || (i % 7), 'w');
        PERFORM coord.release('churn:' || (i % 7), t);
    END LOOP;
END
$$;
SELECT pg_stat_force_next_flush();
SELECT n_tup_upd - n_tup_hot_upd > 0 AS some_updates_were_not_hot
FROM pg_stat_user_tables WHERE relid = 'coord.lease_state'::regclass;
SELECT bt_index_check('coord.lease_state_pkey', heapallindexed => true);
SET enable_seqscan = off;
SELECT name, token FROM coord.lease_state WHERE name LIKE 'churn:%' ORDER BY name;
SELECT count(*) AS found_by_index FROM coord.lease_state WHERE name = 'churn:3';
RESET enable_seqscan;
DROP EXTENSION amcheck;

-- The view's columns.
SELECT name, owner, token, held_for >= '0' AS held_for_ok, expired
FROM coord.leases ORDER BY name;
