-- Billing ledger: every path of ledger_post and ledger_settle, every error
-- with its SQLSTATE, and after each error proof that nothing was written.

CREATE FUNCTION regress.ledger_rows() RETURNS bigint
LANGUAGE sql AS $$SELECT count(*) FROM coord.ledger_entries$$;

-- A first post: a new pending entry under the key derived from (cycle, account).
SELECT * FROM coord.ledger_post('2026-11', 'acct-1', 12.5);
SELECT entry_id, cycle_id, account, amount, currency, idempotency_key, status, external_ref,
       fence_name, fence_token, created_at <= clock_timestamp() AS created, settled_at
FROM coord.ledger;
-- The same post again: the existing entry, inserted = false, nothing new.
SELECT * FROM coord.ledger_post('2026-11', 'acct-1', 12.5);
-- 12.50 and 12.500 are the same amount as 12.5.
SELECT * FROM coord.ledger_post('2026-11', 'acct-1', 12.500, currency => 'USD');
-- An explicit NULL key means the derived key too.
SELECT * FROM coord.ledger_post('2026-11', 'acct-1', 12.50, idempotency_key => NULL);
SELECT regress.ledger_rows() AS rows;

-- The same key with a different request: PC002 naming what differs, nothing written.
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('2026-11', 'acct-1', 13)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('2026-11', 'acct-1', 12.5, 'EUR')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('2026-12', 'acct-9', 12.5,
                                                         idempotency_key => '7:2026-11:acct-1')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('2026-11', 'acct-2', 1, 'JPY',
                                                         idempotency_key => '7:2026-11:acct-1')$$);
SELECT regress.ledger_rows() AS rows;
SELECT amount, currency, cycle_id, account FROM coord.ledger;

-- Derived keys cannot collide: cycle 'a:b' + account 'c' and cycle 'a' + account 'b:c'.
SELECT inserted FROM coord.ledger_post('a:b', 'c', 1);
SELECT inserted FROM coord.ledger_post('a', 'b:c', 1);
SELECT cycle_id, account, idempotency_key FROM coord.ledger WHERE cycle_id IN ('a', 'a:b')
ORDER BY entry_id;

-- An explicit key: another charge of the same account in the same cycle.
SELECT inserted, status FROM coord.ledger_post('2026-11', 'acct-1', 5, idempotency_key => 'order-77');
SELECT inserted FROM coord.ledger_post('2026-11', 'acct-1', 5, idempotency_key => 'order-77');

-- Amounts and currencies: scale by ISO 4217 minor unit (JPY 0, KWD 3, default 2).
SELECT inserted FROM coord.ledger_post('fx', 'acct-jpy', 1000, 'JPY');
SELECT inserted FROM coord.ledger_post('fx', 'acct-kwd', 1.234, 'KWD');
SELECT inserted FROM coord.ledger_post('fx', 'acct-refund', -3.1, 'EUR');
SELECT inserted FROM coord.ledger_post('fx', 'acct-jpy-2', 1000.00, 'JPY');
SELECT account, amount, currency FROM coord.ledger WHERE cycle_id = 'fx' ORDER BY entry_id;
SELECT regress.ledger_rows() AS rows;
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 12.345)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1.5, 'JPY')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1.2345, 'KWD')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 0)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', -0.00)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 'NaN')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 'Infinity')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', '-Infinity')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1e15)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1, 'usd')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1, 'US')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1, 'USDX')$$);
-- NULL and empty arguments name the parameter.
SELECT regress.error_of($$SELECT * FROM coord.ledger_post(NULL, 'x', 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('', 'x', 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post(repeat('c', 257), 'x', 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', NULL, 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', '', 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1, NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1, idempotency_key => '')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fx', 'x', 1,
                                                         idempotency_key => repeat('k', 1025))$$);
SELECT regress.ledger_rows() AS rows;

-- Fenced posts: written only while the token holds the lease. (Tokens are
-- shown counted from here: regress.tok, sql/setup.sql.)
SELECT regress.count_tokens_from_here();
SELECT coord.acquire('ledger:billing', 'i-a') AS lb1 \gset
SELECT regress.tok(:lb1) AS token;
SELECT * FROM coord.ledger_post('fenced', 'acct-1', 10, fence_name => 'ledger:billing', fence_token => :lb1);
SELECT account, fence_name, regress.tok(fence_token) AS fence_token FROM coord.ledger WHERE cycle_id = 'fenced';
-- Exactly one fence parameter: 22004 naming the missing one; nothing written.
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-2', 10,
                                                         fence_name => 'ledger:billing')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-2', 10, fence_token => 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-2', 10, fence_name => '',
                                                         fence_token => 1)$$);
-- A token that is not the holding: PC001, nothing written.
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-2', 10,
                                                         fence_name => 'ledger:billing', fence_token => 2)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-2', 10,
                                                         fence_name => 'ledger:none', fence_token => 1)$$);
SELECT regress.ledger_rows() AS rows;
-- After the holding lapses and another instance takes over, the old token
-- is rejected, also for a replay of an entry it wrote itself.
SELECT coord.acquire('ledger:short', 'i-a', '1 millisecond') AS ls1 \gset
SELECT regress.tok(:ls1) AS token;
SELECT pg_sleep(0.01);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-3', 10,
                                                         fence_name => 'ledger:short', fence_token => $$ || :ls1 || ')');
SELECT coord.release('ledger:billing', :lb1) AS released;
SELECT coord.acquire('ledger:billing', 'i-b') AS lb2 \gset
SELECT regress.tok(:lb2) AS takeover_token, :lb2 > :lb1 AS larger;
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-1', 10,
                                                         fence_name => 'ledger:billing', fence_token => $$ || :lb1 || ')');
SELECT regress.ledger_rows() AS rows;
-- The new holder's rerun: what the old holder posted comes back with
-- inserted = false, the rest is posted under the new token.
SELECT * FROM coord.ledger_post('fenced', 'acct-1', 10, fence_name => 'ledger:billing', fence_token => :lb2);
SELECT inserted FROM coord.ledger_post('fenced', 'acct-2', 10, fence_name => 'ledger:billing', fence_token => :lb2);
SELECT account, regress.tok(fence_token) AS fence_token FROM coord.ledger WHERE cycle_id = 'fenced' ORDER BY account;
-- A stale post inside a transaction rolls back with it (the check and the write are one step).
BEGIN;
SELECT inserted FROM coord.ledger_post('fenced', 'acct-4', 10, fence_name => 'ledger:billing', fence_token => :lb2);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('fenced', 'acct-5', 10,
                                                         fence_name => 'ledger:billing', fence_token => $$ || :lb1 || ')');
ROLLBACK;
SELECT count(*) AS fenced_rows FROM coord.ledger WHERE cycle_id = 'fenced';

-- Settle: pending -> settled with the provider's reference.
SELECT entry_id AS e1 FROM coord.ledger WHERE idempotency_key = '7:2026-11:acct-1' \gset
SELECT coord.ledger_settle(:e1, 'settled', 'ch_001') AS moved;
SELECT status, external_ref, settled_at IS NOT NULL AS has_settled_at
FROM coord.ledger WHERE entry_id = :e1;
-- A replayed post now reports the settled status.
SELECT inserted, status FROM coord.ledger_post('2026-11', 'acct-1', 12.5);
-- The same settle again: a no-op returning false.
SELECT coord.ledger_settle(:e1, 'settled', 'ch_001') AS moved_again;
-- A conflicting settle: PC002, nothing changes.
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'failed', 'ch_001')$$, :e1));
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'settled', 'ch_002')$$, :e1));
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'settled')$$, :e1));
-- Never back to pending; only settled or failed are statuses to settle to.
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'pending')$$, :e1));
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'SETTLED', 'ch_001')$$, :e1));
SELECT status, external_ref FROM coord.ledger WHERE entry_id = :e1;
-- Failed: final too.
SELECT entry_id AS e2 FROM coord.ledger WHERE idempotency_key = 'order-77' \gset
SELECT coord.ledger_settle(:e2, 'failed') AS moved;
SELECT coord.ledger_settle(:e2, 'failed') AS moved_again;
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'settled', 'ch_003')$$, :e2));
SELECT status, external_ref FROM coord.ledger WHERE entry_id = :e2;
-- Bad arguments: 22004/22023 naming the parameter.
SELECT regress.error_of($$SELECT coord.ledger_settle(NULL, 'settled')$$);
SELECT regress.error_of($$SELECT coord.ledger_settle(999999, 'settled')$$);
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, NULL)$$, :e1));
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'settled', '')$$, :e1));
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'settled', repeat('r', 1025))$$, :e1));
-- Fenced settle: the current holder's settle moves the entry, a stale one is PC001.
SELECT entry_id AS e3 FROM coord.ledger WHERE cycle_id = 'fenced' AND account = 'acct-2' \gset
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'settled', 'ch_9',
                                 fence_name => 'ledger:billing', fence_token => %s)$$, :e3, :lb1));
SELECT regress.error_of(format($$SELECT coord.ledger_settle(%s, 'settled', 'ch_9',
                                 fence_name => 'ledger:billing')$$, :e3));
SELECT status FROM coord.ledger WHERE entry_id = :e3;
SELECT coord.ledger_settle(:e3, 'settled', 'ch_9', fence_name => 'ledger:billing', fence_token => :lb2) AS moved;
SELECT status, external_ref FROM coord.ledger WHERE entry_id = :e3;

-- The cycle summary; a cycle mixing currencies has no single total.
SELECT cycle_id, entries, pending, settled, failed, total_settled, currency,
       first_post_at <= last_post_at AS ordered
FROM coord.cycles ORDER BY cycle_id;

-- Privileges: coord_user posts, settles and reads through the API only;
-- nobody else can do anything.
CREATE ROLE regress_ledger_app LOGIN IN ROLE coord_user;
CREATE ROLE regress_ledger_nobody LOGIN;
SET ROLE regress_ledger_app;
SELECT inserted FROM coord.ledger_post('priv', 'acct-1', 1);
SELECT entry_id AS e4 FROM coord.ledger WHERE cycle_id = 'priv' \gset
SELECT coord.ledger_settle(:e4, 'settled', 'ch_p') AS moved;
SELECT cycle_id, entries, settled FROM coord.cycles WHERE cycle_id = 'priv';
SELECT regress.error_of($$UPDATE coord.ledger_entries SET amount = 0.01$$);
SELECT regress.error_of($$DELETE FROM coord.ledger_entries$$);
SELECT regress.error_of($$INSERT INTO coord.ledger_entries (idempotency_key, cycle_id, account, amount, currency)
                          VALUES ('k', 'c', 'a', 1, 'USD')$$);
SELECT regress.error_of($$UPDATE coord.ledger SET status = 'pending'$$);
SELECT regress.error_of($$DELETE FROM coord.ledger$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_entries$$);
RESET ROLE;
SET ROLE regress_ledger_nobody;
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('priv', 'acct-2', 1)$$);
SELECT regress.error_of($$SELECT coord.ledger_settle(1, 'settled')$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger$$);
SELECT regress.error_of($$SELECT * FROM coord.cycles$$);
RESET ROLE;
SELECT account, status, external_ref FROM coord.ledger WHERE cycle_id = 'priv';
SELECT regress.ledger_rows() AS rows;
DROP ROLE regress_ledger_app, regress_ledger_nobody;

-- In the target list it returns one record (use SELECT * FROM for columns:
-- (coord.ledger_post(...)).* would call the function once per column).
SELECT coord.ledger_post('2026-11', 'acct-1', 12.5);
SELECT coord.ledger_post('2026-11', 'acct-new', 1);
SELECT regress.ledger_rows() AS rows;

-- Posts of one key inside one transaction, also twice in one statement:
-- the later ones find the first's uncommitted entry.
BEGIN;
SELECT inserted FROM coord.ledger_post('same-xact', 'acct-1', 1);
SELECT inserted FROM coord.ledger_post('same-xact', 'acct-1', 1);
SELECT a.inserted <> b.inserted AS one_inserted, a.entry_id = b.entry_id AS same_entry
FROM coord.ledger_post('same-xact', 'acct-2', 1) a, coord.ledger_post('same-xact', 'acct-2', 1) b;
ROLLBACK;
-- Under REPEATABLE READ a transaction's own entry is a replay too.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT inserted FROM coord.ledger_post('rr', 'acct-1', 1);
SELECT inserted FROM coord.ledger_post('rr', 'acct-1', 1);
ROLLBACK;

-- A read-only transaction cannot post (25006, as for an INSERT; a fenced
-- post as for its SELECT ... FOR SHARE on the lease); a replay writes
-- nothing and is answered. Nothing written.
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('read-only', 'acct-1', 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('read-only', 'acct-1', 1,
                                                         fence_name => 'ledger:billing', fence_token => $$ || :lb2 || ')');
SELECT inserted FROM coord.ledger_post('2026-11', 'acct-1', 12.5);
ROLLBACK;
SELECT regress.ledger_rows() AS rows;

-- A trigger or CHECK constraint an administrator adds to coord.ledger_entries
-- still applies: new entries then go through SQL, run as the table's owner
-- (the caller, a coord_user, may not write the table itself).
CREATE TABLE regress.ledger_audit (entry_id bigint, written_by name);
CREATE FUNCTION regress.audit_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO regress.ledger_audit VALUES (NEW.entry_id, current_user);
    RETURN NEW;
END $$;
CREATE TRIGGER regress_audit AFTER INSERT ON coord.ledger_entries
FOR EACH ROW EXECUTE FUNCTION regress.audit_ledger();
CREATE ROLE regress_ledger_poster LOGIN IN ROLE coord_user;
SET ROLE regress_ledger_poster;
SELECT inserted, status FROM coord.ledger_post('audited', 'acct-1', 1);
SELECT inserted, status FROM coord.ledger_post('audited', 'acct-1', 1);
SELECT split_part(regress.error_of($$SELECT * FROM coord.ledger_post('audited', 'acct-1', 2)$$),
                  ' | ', 1) AS error;
RESET ROLE;
SELECT l.account, a.written_by = t.tableowner AS written_by_table_owner
FROM regress.ledger_audit a JOIN coord.ledger l USING (entry_id)
JOIN pg_tables t ON t.schemaname = 'coord' AND t.tablename = 'ledger_entries';
DROP TRIGGER regress_audit ON coord.ledger_entries;
ALTER TABLE coord.ledger_entries ADD CONSTRAINT regress_small_amounts CHECK (amount < 100) NOT VALID;
SET ROLE regress_ledger_poster;
SELECT split_part(regress.error_of($$SELECT * FROM coord.ledger_post('audited', 'acct-2', 500)$$),
                  ' | ', 1) AS error;
SELECT inserted FROM coord.ledger_post('audited', 'acct-3', 5);
RESET ROLE;
ALTER TABLE coord.ledger_entries DROP CONSTRAINT regress_small_amounts;
SELECT account, amount FROM coord.ledger WHERE cycle_id = 'audited' ORDER BY account;
-- A NOT NULL constraint added to a column ledger_post leaves empty: 23502.
BEGIN;
UPDATE coord.ledger_entries SET external_ref = 'none' WHERE external_ref IS NULL;
ALTER TABLE coord.ledger_entries ALTER COLUMN external_ref SET NOT NULL;
SELECT regress.error_of($$SELECT * FROM coord.ledger_post('audited', 'acct-6', 1)$$);
ROLLBACK;
SELECT account, amount FROM coord.ledger WHERE cycle_id = 'audited' ORDER BY account;
DROP ROLE regress_ledger_poster;
DROP TABLE regress.ledger_audit;
DROP FUNCTION regress.audit_ledger();

-- Entries are written without the executor: after many posts (new keys,
-- replays, reuses of a key with another amount, posts rolled back) every
-- index of the ledger is consistent with the table.
CREATE EXTENSION amcheck;
DO $$
BEGIN
    FOR i IN 1..2100 LOOP
        PERFORM * FROM coord.ledger_post('amcheck', 'acct-' || i % 700, 1);
        BEGIN
            PERFORM * FROM coord.ledger_post('amcheck', 'acct-' || i % 700, 2);
        EXCEPTION WHEN SQLSTATE 'PC002' THEN NULL;
        END;
        IF i % 10 = 0 THEN
            BEGIN
                PERFORM * FROM coord.ledger_post('amcheck-rolled-back', 'acct-' || i, 1);
                RAISE EXCEPTION 'roll it back';
            EXCEPTION WHEN raise_exception THEN NULL;
            END;
        END IF;
    END LOOP;
END $$;
SELECT count(*) FILTER (WHERE cycle_id = 'amcheck') AS entries,
       count(DISTINCT account) FILTER (WHERE cycle_id = 'amcheck') AS accounts,
       sum(amount) FILTER (WHERE cycle_id = 'amcheck') AS total,
       count(*) FILTER (WHERE cycle_id = 'amcheck-rolled-back') AS rolled_back_left
FROM coord.ledger WHERE cycle_id LIKE 'amcheck%';
SELECT index, bt_index_check(index, heapallindexed => true)
FROM unnest('{coord.ledger_entries_pkey, coord.ledger_entries_idempotency_key,
              coord.ledger_entries_cycle}'::regclass[]) index;
SET enable_seqscan = off;
SELECT count(*) AS found_by_key FROM coord.ledger_entries
WHERE idempotency_key IN ('7:amcheck:acct-1', '7:amcheck:acct-699');
RESET enable_seqscan;
DROP EXTENSION amcheck;
