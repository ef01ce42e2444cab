-- Lease locks with fencing tokens: every function and every error path.

-- Tokens are shown counted from here (regress.tok, sql/setup.sql).
SELECT regress.count_tokens_from_here();

-- First acquire of a name: a new token. The holder retrying gets the same token.
SELECT coord.acquire('billing:daily', owner => 'i-a', ttl => '1 hour') AS t1 \gset
SELECT regress.tok(:t1) AS token;
SELECT regress.tok(coord.acquire('billing:daily', owner => 'i-a', ttl => '2 hours')) AS same_token;
SELECT name, owner, regress.tok(token) AS token, expired,
       expires_at - acquired_at > '1 hour 59 minutes' AS extended
FROM coord.leases;
-- Another owner gets NULL while the lease is held.
SELECT coord.acquire('billing:daily', 'i-b') IS NULL AS busy;
-- Release: only the current token frees it.
SELECT coord.release('billing:daily', 99) AS wrong_token_released;
SELECT coord.release('billing:daily', :t1 + 1) AS wrong_token_released;
SELECT coord.release('billing:daily', :t1) AS released;
SELECT coord.release('billing:daily', :t1) AS released_twice;
SELECT count(*) AS holders FROM coord.leases;
-- The next holding gets a larger token, even after a release.
SELECT coord.acquire('billing:daily', 'i-b') AS t2 \gset
SELECT regress.tok(:t2) AS token_after_release, :t2 > :t1 AS larger;

-- Renew extends; a stale token is lease_lost (PC001) and changes nothing.
SELECT coord.renew('billing:daily', :t2, '3 hours') - now() > '2 hours 59 minutes' AS renewed;
SELECT regress.error_of($$SELECT coord.renew('billing:daily', $$ || :t1 || ')');
SELECT regress.error_of($$SELECT coord.renew('never:acquired', 1)$$);
SELECT owner, regress.tok(token) AS token FROM coord.leases WHERE name = 'billing:daily';

-- check_fence passes for the holder, raises PC001 for anything else.
SELECT coord.check_fence('billing:daily', :t2);
SELECT regress.error_of($$SELECT coord.check_fence('billing:daily', $$ || :t1 || ')');
SELECT regress.error_of($$SELECT coord.check_fence('no:such:lease', 1)$$);
-- A read-only transaction can neither take the fence's share lock nor change
-- a lease (25006, as for SELECT ... FOR SHARE and UPDATE); nothing changes.
SELECT expires_at AS expiry_before FROM coord.lease_state WHERE name = 'billing:daily' \gset
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT coord.check_fence('billing:daily', $$ || :t2 || ')');
SELECT regress.error_of($$SELECT coord.renew('billing:daily', $$ || :t2 || ')');
SELECT regress.error_of($$SELECT coord.acquire('read:only', 'w')$$);
ROLLBACK;
SELECT owner, regress.tok(token) AS token, expires_at = :'expiry_before' AS expiry_unchanged
FROM coord.lease_state WHERE name = 'billing:daily';

-- A stale holder's protected write rolls back with the fence check.
CREATE TABLE regress.charges (account text, amount numeric);
SELECT regress.error_of($$
    WITH fenced AS (SELECT coord.check_fence('billing:daily', $$ || :t1 || $$))
    INSERT INTO regress.charges SELECT 'acct-1', 10 FROM fenced$$);
SELECT count(*) AS charges_written FROM regress.charges;
-- The current holder's write goes through.
INSERT INTO regress.charges SELECT 'acct-1', 10 FROM (SELECT coord.check_fence('billing:daily', :t2)) f;
SELECT count(*) AS charges_written FROM regress.charges;

-- Expiry: a lapsed holding is taken over with a larger token; the old
-- holder can no longer renew, release or pass the fence.
SELECT coord.acquire('job:expiring', 'w-1', '1 millisecond') AS e1 \gset
SELECT pg_sleep(0.01);
SELECT name, owner, regress.tok(token) AS token, expired FROM coord.leases WHERE name = 'job:expiring';
SELECT regress.error_of($$SELECT coord.renew('job:expiring', $$ || :e1 || ')');
SELECT coord.release('job:expiring', :e1) AS expired_release;
SELECT coord.acquire('job:expiring', 'w-2') AS e2 \gset
SELECT regress.tok(:e2) AS takeover_token, :e2 > :e1 AS larger;
SELECT regress.error_of($$SELECT coord.check_fence('job:expiring', $$ || :e1 || ')');
-- The same owner whose holding lapsed also gets a new token.
SELECT coord.acquire('job:lapsed', 'w-1', '1 millisecond') AS l1 \gset
SELECT pg_sleep(0.01);
SELECT coord.acquire('job:lapsed', 'w-1') AS l2 \gset
SELECT regress.tok(:l1) AS token, regress.tok(:l2) AS new_token_same_owner, :l2 > :l1 AS larger;

-- force_release (superuser here): frees a live holding, keeps the token sequence.
SELECT coord.force_release('job:expiring') AS forced;
SELECT coord.force_release('job:expiring') AS forced_again;
SELECT coord.force_release('never:acquired') AS forced_unknown;
SELECT coord.acquire('job:expiring', 'w-3') AS e3 \gset
SELECT regress.tok(:e3) AS token_after_force, :e3 > :e2 AS larger;

-- A token is never handed out twice, not even after a rolled-back grant (the
-- allocator is not transactional): the next holder gets a different, larger
-- token, and the rolled-back grant's token neither passes the fence (PC001)
-- nor renews or releases the next holding; nothing changes.
BEGIN;
SELECT coord.acquire('rb', 'A') AS rb_a \gset
ROLLBACK;
SELECT count(*) AS rows_after_rollback FROM coord.lease_state WHERE name = 'rb';
SELECT coord.acquire('rb', 'B') AS rb_b \gset
SELECT :rb_b <> :rb_a AS different, :rb_b > :rb_a AS larger;
CREATE TEMP TABLE rb_before AS SELECT * FROM coord.lease_state WHERE name = 'rb';
SELECT regress.error_of($$SELECT coord.check_fence('rb', $$ || :rb_a || ')');
SELECT regress.error_of($$SELECT coord.renew('rb', $$ || :rb_a || ')');
SELECT coord.release('rb', :rb_a) AS released_with_rolled_back_token;
SELECT owner, token = :rb_b AS b_holds, (SELECT r = b FROM rb_before b) AS row_unchanged
FROM coord.lease_state r WHERE name = 'rb';
-- The same when the grant updates an existing row (a takeover after a
-- release), and when only a savepoint rolls back.
BEGIN;
SELECT coord.release('rb', :rb_b) AS released;
SELECT coord.acquire('rb', 'C') AS rb_c \gset
ROLLBACK;
BEGIN;
SELECT coord.release('rb', :rb_b) AS released;
SAVEPOINT grant_c;
SELECT coord.acquire('rb', 'C') AS rb_c2 \gset
ROLLBACK TO grant_c;
SELECT coord.acquire('rb', 'D') AS rb_d \gset
COMMIT;
SELECT :rb_c > :rb_b AS c_larger_than_b, :rb_c2 > :rb_c AS c2_larger_than_c,
       :rb_d > :rb_c2 AS d_larger_than_c2;
SELECT regress.error_of($$SELECT coord.check_fence('rb', $$ || :rb_c || ')');
SELECT regress.error_of($$SELECT coord.check_fence('rb', $$ || :rb_c2 || ')');
SELECT coord.release('rb', :rb_c) OR coord.release('rb', :rb_c2) AS released_with_rolled_back_tokens;
SELECT owner, token = :rb_d AS d_holds FROM coord.lease_state WHERE name = 'rb';
SELECT coord.release('rb', :rb_d) AS released;
-- Tokens are not granted to any role directly (the allocator is internal).
SET ROLE coord_user;
SELECT regress.error_of($$SELECT coord.new_token(0)$$);
SELECT regress.error_of($$SELECT nextval('coord.token_allocator')$$);
SELECT regress.error_of($$SELECT setval('coord.token_epoch', 1)$$);
RESET ROLE;

-- A holding's transaction commits synchronously even if the session does not.
BEGIN;
SET LOCAL synchronous_commit = off;
SELECT regress.tok(coord.acquire('durable:token', 'w-1')) AS token;
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
SELECT regress.error_of($$SELECT coord.renew('billing:daily', $$ || :t2 || $$, '0')$$);
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
CREATE TEMP TABLE mixed AS
SELECT 'Mixed-' || md5(i::text) || CASE WHEN i % 2 = 0 THEN ':a' ELSE '_B' END AS name
FROM generate_series(1, 300) i;
CREATE TEMP TABLE mixed_tokens AS SELECT name, coord.acquire(name, 'many') AS token FROM mixed;
SELECT count(*) AS first_holdings, count(DISTINCT token) AS distinct_tokens
FROM mixed_tokens WHERE token IS NOT NULL;
SELECT count(*) AS same_token_again FROM mixed_tokens WHERE coord.acquire(name, 'many') = token;
SELECT count(*) AS released FROM mixed_tokens WHERE coord.release(name, token);

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
SELECT name, regress.tok(token) AS token FROM coord.lease_state WHERE name LIKE 'churn:%' ORDER BY name;
SELECT count(*) AS found_by_index FROM coord.lease_state WHERE name = 'churn:3';
RESET enable_seqscan;
DROP EXTENSION amcheck;

-- The view's columns.
SELECT name, owner, regress.tok(token) AS token, held_for >= '0' AS held_for_ok, expired
FROM coord.leases ORDER BY name;
