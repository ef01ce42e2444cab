-- Holdings belong to roles. A lease, a task claim and a ledger entry belong
-- to the role that took, claimed or posted them, as well as to their owner
-- string; owner strings and tokens are identifiers, not credentials. Two
-- coord_user roles (a, b), a member of a, and a coord_admin (ops): every
-- attempt of b on a's holdings gets 42501 naming both roles and changes
-- nothing; a still can; ops can. Reading another role's task payloads and
-- ledger entries needs that role's privileges (or coord_admin).
CREATE ROLE regress_role_a LOGIN;
CREATE ROLE regress_role_b LOGIN;
CREATE ROLE regress_role_a_member LOGIN IN ROLE regress_role_a;  -- inherits a's privileges
CREATE ROLE regress_role_ops LOGIN;
CREATE ROLE regress_role_nobody LOGIN;
GRANT coord_user TO regress_role_a, regress_role_b;
GRANT coord_admin TO regress_role_ops;

-- Messages name task ids, entry ids and OIDs, which depend on earlier tests.
CREATE FUNCTION regress.error_masked(statement text) RETURNS text
LANGUAGE sql AS $$
    SELECT regexp_replace(regress.error_of(statement), '(task|entry|OID) \d+', '\1 N', 'gi')
$$;
-- The whole stored row, to show that a refused call changed nothing.
CREATE FUNCTION regress.lease_row(lease text) RETURNS text
LANGUAGE sql AS $$ SELECT l::text FROM coord.lease_state l WHERE l.name = lease $$;
CREATE FUNCTION regress.task_row(task bigint) RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce((SELECT t::text FROM coord.tasks t WHERE t.id = task), '') || '/' ||
           coalesce((SELECT c::text FROM coord.tasks_complete c WHERE c.id = task), '')
$$;
CREATE FUNCTION regress.entry_row(entry bigint) RETURNS text
LANGUAGE sql AS $$ SELECT e::text FROM coord.ledger_entries e WHERE e.entry_id = entry $$;

-- ---- leases -----------------------------------------------------------------
SELECT regress.count_tokens_from_here();  -- tokens below are counted from here
SET ROLE regress_role_a;
SELECT coord.acquire('roles:lease', 'shared-owner', '1 hour') AS token \gset
SELECT regress.tok(:token) AS token_of_a;
RESET ROLE;
SELECT regress.lease_row('roles:lease') AS lease_before \gset

-- coord.leases: the holding role for everyone, the token only for its own
-- role (and administrators).
SET ROLE regress_role_b;
SELECT name, owner, holder_role, regress.tok(token) AS token FROM coord.leases WHERE name = 'roles:lease';
SET ROLE regress_role_a;
SELECT name, owner, holder_role, regress.tok(token) AS token FROM coord.leases WHERE name = 'roles:lease';
SET ROLE regress_role_a_member;  -- a member is not the holder: acting and tokens need the role itself
SELECT name, holder_role, regress.tok(token) AS token FROM coord.leases WHERE name = 'roles:lease';
SET ROLE regress_role_ops;
SELECT name, holder_role, regress.tok(token) AS token FROM coord.leases WHERE name = 'roles:lease';
RESET ROLE;

-- b knows the owner string and the token; none of it lets b act.
SET ROLE regress_role_b;
SELECT regress.error_of($$SELECT coord.acquire('roles:lease', 'shared-owner', '30 days')$$) AS reacquire;
SELECT regress.error_of($$SELECT coord.acquire('roles:lease', 'shared-owner', wait_for => '1 s')$$)
    AS reacquire_waiting;
SELECT regress.error_of($$SELECT * FROM coord.acquire_all(ARRAY['roles:lease', 'roles:other'], 'shared-owner')$$)
    AS acquire_all;
SELECT regress.error_of(format($$SELECT coord.renew('roles:lease', %s, '30 days')$$, :token)) AS renew;
SELECT regress.error_of(format($$SELECT coord.release('roles:lease', %s)$$, :token)) AS release;
SELECT regress.error_of(format($$SELECT coord.check_fence('roles:lease', %s)$$, :token)) AS check_fence;
SELECT regress.error_of(format($$SELECT * FROM coord.ledger_post('roles', 'acct-b', 1.00,
    fence_name => 'roles:lease', fence_token => %s)$$, :token)) AS fenced_post;
SELECT regress.error_of($$SELECT coord.force_release('roles:lease')$$) AS force_release;
-- Another owner string is simply busy (NULL), as for any holder.
SELECT coord.acquire('roles:lease', 'b-owner') IS NULL AS busy;
RESET ROLE;
SELECT regress.lease_row('roles:lease') = :'lease_before' AS lease_unchanged;
SELECT count(*) AS other_names_taken FROM coord.lease_state WHERE name = 'roles:other' AND owner IS NOT NULL;
SELECT count(*) AS entries_posted FROM coord.ledger_entries WHERE cycle_id = 'roles';

-- A member of a acts only as a (SET ROLE): holdings are not inherited.
SET ROLE regress_role_a_member;
SELECT regress.error_of(format($$SELECT coord.renew('roles:lease', %s)$$, :token)) AS member_renew;
SET ROLE regress_role_a;
SELECT coord.renew('roles:lease', :token, '2 hours') > now() AS renewed_as_a;
RESET ROLE;

-- a itself still can: the same owner's retry, renew, the fence.
SET ROLE regress_role_a;
SELECT coord.acquire('roles:lease', 'shared-owner') = :token AS same_token;
SELECT coord.renew('roles:lease', :token) > now() AS renewed;
SELECT regress.error_of(format($$SELECT coord.check_fence('roles:lease', %s)$$, :token)) AS fence;
RESET ROLE;

-- An administrator may act on any holding; it stays a's.
SET ROLE regress_role_ops;
SELECT coord.acquire('roles:lease', 'shared-owner') = :token AS admin_same_token;
SELECT coord.renew('roles:lease', :token) > now() AS admin_renewed;
SELECT regress.error_of(format($$SELECT coord.check_fence('roles:lease', %s)$$, :token)) AS admin_fence;
RESET ROLE;
SELECT owner, holder_role, token = :token AS same_holding FROM coord.leases WHERE name = 'roles:lease';

-- A stale token is lease_lost (PC001) whatever the role: the token is
-- checked first, the role only for the current holding.
SET ROLE regress_role_a;
SELECT coord.release('roles:lease', :token) AS released_by_a;
SET ROLE regress_role_b;
SELECT coord.acquire('roles:lease', 'shared-owner') AS token_of_b \gset
SELECT :token_of_b > :token AS larger_token;
SET ROLE regress_role_a;
SELECT regress.error_of(format($$SELECT coord.renew('roles:lease', %s)$$, :token)) AS stale_renew;
SELECT regress.error_of(format($$SELECT coord.renew('roles:lease', %s)$$, :token_of_b)) AS renew_bs;
RESET ROLE;
SELECT owner, holder_role FROM coord.leases WHERE name = 'roles:lease';

-- A dropped role's holding can be ended only by coord_admin or by expiry.
CREATE ROLE regress_role_gone;
GRANT coord_user TO regress_role_gone;
SET ROLE regress_role_gone;
SELECT coord.acquire('roles:gone', 'gone-owner') AS gone_token \gset
RESET ROLE;
DROP ROLE regress_role_gone;
SELECT holder_role::oid <> 0 AS holder_kept_as_oid,
       NOT EXISTS (SELECT FROM pg_roles r WHERE r.oid = holder_role) AS role_is_gone
FROM coord.leases WHERE name = 'roles:gone';
SET ROLE regress_role_b;
SELECT regress.error_masked(format($$SELECT coord.release('roles:gone', %s)$$, :gone_token)) AS release_gone;
SET ROLE regress_role_ops;
SELECT coord.force_release('roles:gone') AS forced_by_admin;
RESET ROLE;
-- The same again, ended by expiry this time.
CREATE ROLE regress_role_gone;
GRANT coord_user TO regress_role_gone;
SET ROLE regress_role_gone;
SELECT coord.acquire('roles:gone', 'gone-owner') AS gone_token \gset
RESET ROLE;
DROP ROLE regress_role_gone;
UPDATE coord.lease_state SET expires_at = clock_timestamp() - interval '1 s' WHERE name = 'roles:gone';
SET ROLE regress_role_b;
SELECT coord.acquire('roles:gone', 'gone-owner') > :gone_token AS taken_after_expiry;
RESET ROLE;
SELECT holder_role FROM coord.leases WHERE name = 'roles:gone';

-- ---- tasks --------------------------------------------------------------------
SET ROLE regress_role_a;
SELECT coord.queue_create('roles:q') AS created;
SELECT coord.enqueue('roles:q', '{"card": "4242"}') AS task \gset
SELECT task_id = :task AS claimed, token AS task_token FROM coord.claim('roles:q', 'a-worker') \gset
RESET ROLE;
SELECT regress.task_row(:task) AS task_before \gset

SET ROLE regress_role_b;
SELECT regress.error_masked(format($$SELECT * FROM coord.task(%s)$$, :task)) AS read_task;
SELECT regress.error_masked(format($$SELECT coord.heartbeat(%s, %s, '7 days')$$, :task, :task_token)) AS heartbeat;
SELECT regress.error_masked(format($$SELECT coord.complete(%s, %s)$$, :task, :task_token)) AS complete;
SELECT regress.error_masked(format($$SELECT coord.fail(%s, %s, 'b says no')$$, :task, :task_token)) AS fail;
RESET ROLE;
SELECT regress.task_row(:task) = :'task_before' AS task_unchanged;

-- The enqueuer's role, its members and administrators read the task.
SET ROLE regress_role_a;
SELECT state, payload FROM coord.task(:task);
SET ROLE regress_role_a_member;
SELECT state, payload FROM coord.task(:task);
SET ROLE regress_role_ops;
SELECT state, payload FROM coord.task(:task);
SELECT coord.heartbeat(:task, :task_token) > now() AS admin_heartbeat;
RESET ROLE;
SELECT claimed_by, enqueued_by FROM coord.tasks WHERE id = :task;

-- a completes; the completion belongs to a (b may not even repeat it).
SET ROLE regress_role_a;
SELECT coord.complete(:task, :task_token, '{"ok": true}') AS completed;
SET ROLE regress_role_b;
SELECT regress.error_masked(format($$SELECT coord.complete(%s, %s)$$, :task, :task_token)) AS complete_again;
SELECT regress.error_masked(format($$SELECT * FROM coord.task(%s)$$, :task)) AS read_completed;
SET ROLE regress_role_a;
SELECT coord.complete(:task, :task_token) AS repeated;
SELECT state, result FROM coord.task(:task);
RESET ROLE;
SELECT enqueued_by, claimed_by FROM coord.tasks_complete WHERE id = :task;

-- a's queue: b may claim from it once a grants it consume. The claim is
-- b's: a may not complete it, but still reads its own task; b reads it as
-- claimant.
SET ROLE regress_role_b;
SELECT regress.error_of($$SELECT * FROM coord.claim('roles:q', 'b-worker')$$) AS claim_without_grant;
SET ROLE regress_role_a;
SELECT coord.queue_grant('roles:q', 'regress_role_b', 'consume') AS granted;
SELECT coord.enqueue('roles:q', '{"card": "5555"}') AS task2 \gset
SET ROLE regress_role_b;
SELECT token AS task2_token FROM coord.claim('roles:q', 'b-worker') \gset
SELECT state, payload FROM coord.task(:task2);
SET ROLE regress_role_a;
SELECT regress.error_masked(format($$SELECT coord.complete(%s, %s)$$, :task2, :task2_token)) AS a_completes_bs_claim;
SELECT state, worker FROM coord.task(:task2);
-- An administrator completes it; the completing claim stays b's.
SET ROLE regress_role_ops;
SELECT coord.complete(:task2, :task2_token) AS admin_completed;
RESET ROLE;
SELECT enqueued_by, claimed_by FROM coord.tasks_complete WHERE id = :task2;

-- An administrator may fail another role's claim.
SET ROLE regress_role_a;
SELECT coord.enqueue('roles:q', '{}') AS task3 \gset
SELECT token AS task3_token FROM coord.claim('roles:q', 'a-worker') \gset
SET ROLE regress_role_ops;
SELECT coord.fail(:task3, :task3_token, 'operator stopped it', retry_in => '0') AS admin_failed;
RESET ROLE;
SELECT state, claimed_by IS NULL AS unclaimed FROM coord.tasks WHERE id = :task3;

-- ---- ledger -------------------------------------------------------------------
SET ROLE regress_role_a;
SELECT entry_id AS entry FROM coord.ledger_post('roles', 'acct-1', 12.50) \gset
RESET ROLE;
SELECT regress.entry_row(:entry) AS entry_before \gset

SET ROLE regress_role_b;
SELECT count(*) AS entries_b_sees FROM coord.ledger WHERE cycle_id = 'roles';
SELECT count(*) AS cycles_b_sees FROM coord.cycles WHERE cycle_id = 'roles';
SELECT regress.error_masked($$SELECT * FROM coord.ledger_post('roles', 'acct-1', 12.50)$$) AS replay;
-- Not PC002: a conflict's detail would describe a's entry.
SELECT regress.error_masked($$SELECT * FROM coord.ledger_post('roles', 'acct-1', 99.00)$$) AS conflict;
SELECT regress.error_masked(format($$SELECT coord.ledger_settle(%s, 'settled', 'ch_b')$$, :entry)) AS settle;
RESET ROLE;
SELECT regress.entry_row(:entry) = :'entry_before' AS entry_unchanged;

-- A member of a reads a's entries but settles only as a.
SET ROLE regress_role_a_member;
SELECT account, amount, posted_by FROM coord.ledger WHERE cycle_id = 'roles';
SELECT entries FROM coord.cycles WHERE cycle_id = 'roles';
SELECT inserted, status FROM coord.ledger_post('roles', 'acct-1', 12.50);
SELECT regress.error_masked(format($$SELECT coord.ledger_settle(%s, 'settled', 'ch_m')$$, :entry)) AS member_settle;
SET ROLE regress_role_ops;
SELECT account, posted_by FROM coord.ledger WHERE cycle_id = 'roles';
SET ROLE regress_role_a;
SELECT coord.ledger_settle(:entry, 'settled', 'ch_a') AS settled_by_a;
-- Fenced by a's own lease: a posts and settles under it; b cannot settle
-- its own entry under a's fence.
SELECT coord.acquire('roles:fence', 'a-owner') AS fence_token \gset
SELECT inserted FROM coord.ledger_post('roles', 'acct-2', 1.00, fence_name => 'roles:fence',
                                       fence_token => :fence_token);
SET ROLE regress_role_b;
SELECT entry_id AS entry_b FROM coord.ledger_post('roles-b', 'acct-9', 3.00) \gset
SELECT regress.error_masked(format($$SELECT coord.ledger_settle(%s, 'settled', 'ch_9',
    fence_name => 'roles:fence', fence_token => %s)$$, :entry_b, :fence_token)) AS settle_under_as_fence;
SELECT status FROM coord.ledger WHERE entry_id = :entry_b;
SELECT account, posted_by FROM coord.ledger WHERE cycle_id LIKE 'roles%' ORDER BY account;
RESET ROLE;

-- ---- what nobody may do directly --------------------------------------------
-- The tables are not readable or writable by coord_user, nor is the
-- internal record function callable; a role outside coord_user can do
-- nothing at all.
SET ROLE regress_role_b;
SELECT regress.error_of($$SELECT token FROM coord.lease_state$$) AS read_lease_state;
SELECT regress.error_of($$SELECT payload FROM coord.tasks$$) AS read_tasks;
SELECT regress.error_of($$SELECT payload FROM coord.tasks_complete$$) AS read_tasks_complete;
SELECT regress.error_of($$SELECT amount FROM coord.ledger_entries$$) AS read_ledger_entries;
SELECT regress.error_of($$SELECT * FROM coord.task_record(1)$$) AS task_record;
SELECT regress.error_of($$UPDATE coord.lease_state SET holder_role = current_user::regrole$$) AS take_over;
SELECT regress.error_of($$UPDATE coord.ledger SET status = 'failed'$$) AS update_view;
SET ROLE regress_role_nobody;
SELECT regress.error_of($$SELECT * FROM coord.task(1)$$) AS nobody_task;
SELECT regress.error_of($$SELECT * FROM coord.leases$$) AS nobody_leases;
SELECT regress.error_of($$SELECT * FROM coord.ledger$$) AS nobody_ledger;
SELECT regress.error_of($$SELECT coord.complete(1, 1)$$) AS nobody_complete;
RESET ROLE;
SELECT c.relname AS readable_by_public FROM pg_class c
WHERE c.relnamespace = 'coord'::regnamespace AND c.relkind IN ('r', 'v', 'S')
  AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('public', c.oid, 'INSERT')
       OR has_table_privilege('public', c.oid, 'UPDATE') OR has_table_privilege('public', c.oid, 'DELETE'));
SELECT c.relname AS writable_by_coord_user FROM pg_class c
WHERE c.relnamespace = 'coord'::regnamespace AND c.relkind IN ('r', 'v', 'S')
  AND (has_table_privilege('coord_user', c.oid, 'INSERT') OR has_table_privilege('coord_user', c.oid, 'UPDATE')
       OR has_table_privilege('coord_user', c.oid, 'DELETE') OR has_table_privilege('coord_user', c.oid, 'TRUNCATE'));
SELECT c.relname AS table_readable_by_coord_user FROM pg_class c
WHERE c.relnamespace = 'coord'::regnamespace AND c.relkind = 'r'
  AND has_table_privilege('coord_user', c.oid, 'SELECT') ORDER BY 1;
-- The functions that act on holdings have invoker rights: they see the
-- caller's role. What is still SECURITY DEFINER acts on no holding.
SELECT p.proname AS security_definer FROM pg_proc p
WHERE p.pronamespace = 'coord'::regnamespace AND p.prosecdef ORDER BY 1;

-- ---- the SQL they still run ignores the caller's search_path -----------------
-- An operator that would capture text = text if the statements resolved
-- names through the caller's search_path; a fresh session plans them first.
CREATE SCHEMA regress_evil;
GRANT USAGE ON SCHEMA regress_evil TO PUBLIC;
CREATE FUNCTION regress_evil.texteq(a text, b text) RETURNS boolean
LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'regress_evil operator used'; END $$;
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.texteq);
\c
SET ROLE regress_role_a;
SET search_path = regress_evil, pg_catalog;
SELECT 'plain SQL' = 'is captured';
SELECT coord.queue_create('roles:evil') AS created;
SELECT coord.enqueue('roles:evil', '{}', dedupe_key => 'k') > 0 AS enqueued;
SELECT coord.enqueue('roles:evil', '{}', dedupe_key => 'k') > 0 AS deduplicated;
SELECT count(*) AS claimed FROM coord.claim('roles:evil', 'w');
SELECT name FROM coord.acquire_all(ARRAY['roles:evil-1', 'roles:evil-2'], 'evil-owner');
RESET search_path;
RESET ROLE;
DROP SCHEMA regress_evil CASCADE;

DROP FUNCTION regress.error_masked(text), regress.lease_row(text), regress.task_row(bigint),
    regress.entry_row(bigint);
DROP ROLE regress_role_a_member, regress_role_a, regress_role_b, regress_role_ops, regress_role_nobody;
