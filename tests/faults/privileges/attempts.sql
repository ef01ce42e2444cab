-- The privileges suite's attempts (found from the catalog where they can
-- be), the harness that runs them, and the report.
\set ON_ERROR_STOP 1
CREATE TABLE priv.attempts (
    id        serial PRIMARY KEY,
    part      text NOT NULL,
    who       text NOT NULL,
    what      text NOT NULL,
    statement text NOT NULL,
    expect    text[] NOT NULL DEFAULT '{42501}',  -- the SQLSTATEs that count as refused
    read_leak boolean NOT NULL DEFAULT false,     -- the statement returns how many rows leaked (0: refused)
    check_sql text,                               -- run after it by the superuser: true = nothing gained
    path      text NOT NULL DEFAULT '"$user", public',
    outcome   text, message text, problem text, changed text,
    token_gap boolean);                           -- refused, but a token number was used up

-- ---- 1. functions only coord_admin (or nobody) may execute ------------------
-- The README's roles model: these are admin-only (manual interventions and
-- shard administration) or internal; every other function is coord_user's.
CREATE TABLE priv.admin_only (proname text PRIMARY KEY, internal boolean NOT NULL DEFAULT false);
INSERT INTO priv.admin_only VALUES ('force_release', false), ('retry_dead', false), ('detect_deadlocks', false),
    ('shard_add', false), ('migration_start', false), ('migration_advance', false), ('migration_rollback', false),
    ('new_token', true), ('task_record', true);
-- Any function coord_user may not execute is attempted too (a new one is covered).
INSERT INTO priv.attempts (part, who, what, statement)
SELECT 'admin-only functions', r.who, f.fn::text, priv.fill(f.statement, 'priv_alice')
FROM priv.functions f
CROSS JOIN (VALUES ('priv_mallory'), ('priv_member'), ('priv_nobody'), ('priv_admin')) r(who)
LEFT JOIN priv.admin_only a ON a.proname = f.proname
WHERE (r.who = 'priv_nobody')
   OR (r.who = 'priv_admin' AND (a.internal OR NOT has_function_privilege('coord_admin', f.fn, 'EXECUTE')))
   OR (r.who IN ('priv_mallory', 'priv_member')
       AND (a.proname IS NOT NULL OR NOT has_function_privilege('coord_user', f.fn, 'EXECUTE')));

-- ---- 2. direct access to every table, view and sequence of schema coord ------
CREATE TABLE priv.relation_ops (relkind "char", op text, statement text, expect text[] DEFAULT '{42501}',
                                silent boolean DEFAULT false);
INSERT INTO priv.relation_ops (relkind, op, statement) VALUES
    ('r', 'INSERT', 'INSERT INTO %1$s DEFAULT VALUES'),
    ('r', 'UPDATE', 'UPDATE %1$s SET %2$I = %2$I'),
    ('r', 'DELETE', 'DELETE FROM %1$s'),
    ('r', 'TRUNCATE', 'TRUNCATE %1$s'),
    ('r', 'SELECT', 'SELECT count(*) FROM %1$s'),
    ('r', 'SELECT FOR UPDATE', 'SELECT 1 FROM %1$s LIMIT 1 FOR UPDATE'),
    ('r', 'LOCK', 'LOCK TABLE %1$s IN ACCESS EXCLUSIVE MODE'),
    ('r', 'ALTER ADD COLUMN', 'ALTER TABLE %1$s ADD COLUMN priv_x integer'),
    ('r', 'ALTER DISABLE TRIGGER', 'ALTER TABLE %1$s DISABLE TRIGGER ALL'),
    ('r', 'ALTER OWNER', 'ALTER TABLE %1$s OWNER TO CURRENT_USER'),
    ('r', 'ENABLE RLS', 'ALTER TABLE %1$s ENABLE ROW LEVEL SECURITY'),
    ('r', 'CREATE POLICY', 'CREATE POLICY priv_p ON %1$s USING (true)'),
    ('r', 'CREATE TRIGGER', 'CREATE TRIGGER priv_t BEFORE UPDATE ON %1$s FOR EACH ROW EXECUTE FUNCTION pg_catalog.suppress_redundant_updates_trigger()'),
    ('r', 'CREATE RULE', 'CREATE RULE priv_r AS ON INSERT TO %1$s DO INSTEAD NOTHING'),
    ('r', 'CREATE INDEX', 'CREATE INDEX priv_i ON %1$s (%2$I)'),
    ('r', 'INHERIT', 'CREATE TEMPORARY TABLE priv_child () INHERITS (%1$s)'),
    ('r', 'REINDEX', 'REINDEX TABLE %1$s'),
    ('r', 'COMMENT', 'COMMENT ON TABLE %1$s IS ''priv'''),
    ('r', 'DROP', 'DROP TABLE %1$s CASCADE'),
    ('v', 'INSERT', 'INSERT INTO %1$s DEFAULT VALUES'),
    ('v', 'UPDATE', 'UPDATE %1$s SET %2$I = %2$I'),
    ('v', 'DELETE', 'DELETE FROM %1$s'),
    ('v', 'SELECT', 'SELECT count(*) FROM %1$s'),
    ('v', 'SELECT FOR UPDATE', 'SELECT 1 FROM %1$s LIMIT 1 FOR UPDATE'),
    ('v', 'ALTER RENAME', 'ALTER VIEW %1$s RENAME TO priv_v'),
    ('v', 'ALTER OWNER', 'ALTER VIEW %1$s OWNER TO CURRENT_USER'),
    ('v', 'ALTER OPTION', 'ALTER VIEW %1$s SET (security_barrier = false)'),
    ('v', 'REPLACE', 'CREATE OR REPLACE VIEW %1$s AS SELECT 1 AS x'),
    ('v', 'CREATE RULE', 'CREATE RULE priv_r AS ON DELETE TO %1$s DO INSTEAD NOTHING'),
    ('v', 'COMMENT', 'COMMENT ON VIEW %1$s IS ''priv'''),
    ('v', 'DROP', 'DROP VIEW %1$s CASCADE'),
    ('S', 'nextval', 'SELECT pg_catalog.nextval(%1$L)'),
    ('S', 'setval', 'SELECT pg_catalog.setval(%1$L, 1)'),
    ('S', 'currval', 'SELECT pg_catalog.currval(%1$L)'),
    ('S', 'SELECT', 'SELECT last_value FROM %1$s'),
    ('S', 'last_value', 'SELECT pg_catalog.pg_sequence_last_value(%1$L)'),
    ('S', 'ALTER RESTART', 'ALTER SEQUENCE %1$s RESTART'),
    ('S', 'ALTER OWNER', 'ALTER SEQUENCE %1$s OWNER TO CURRENT_USER'),
    ('S', 'DROP', 'DROP SEQUENCE %1$s CASCADE');
-- A view PostgreSQL cannot update refuses a write with 55000 (the
-- rewriter, before any privilege check); FOR UPDATE of an aggregate view is 0A000.
UPDATE priv.relation_ops SET expect = '{42501,55000}' WHERE relkind = 'v' AND op IN ('INSERT', 'UPDATE', 'DELETE', 'CREATE RULE');
-- An UPDATE through a view of an identity column is 428C9, also before.
UPDATE priv.relation_ops SET expect = '{42501,55000,428C9}' WHERE relkind = 'v' AND op = 'UPDATE';
UPDATE priv.relation_ops SET expect = '{42501,0A000,55000}' WHERE relkind = 'v' AND op = 'SELECT FOR UPDATE';
-- GRANT by a role without the grant option only warns: attempted, and the
-- check is that the role gained nothing.
INSERT INTO priv.relation_ops (relkind, op, statement, silent) VALUES
    ('r', 'GRANT', 'GRANT ALL ON %1$s TO CURRENT_USER', true),
    ('v', 'GRANT', 'GRANT ALL ON %1$s TO CURRENT_USER', true),
    ('S', 'GRANT', 'GRANT ALL ON SEQUENCE %1$s TO CURRENT_USER', true);

INSERT INTO priv.attempts (part, who, what, statement, expect, check_sql)
SELECT 'direct access', r.who, o.op || ' ' || c.oid::regclass::text,
       format(o.statement, c.oid::regclass::text,
              (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                  AND a.attidentity = '' AND a.attgenerated = ''
                ORDER BY a.attnum LIMIT 1)),
       CASE WHEN o.silent THEN o.expect || '{ok}'::text[] ELSE o.expect END,
       CASE WHEN o.silent THEN
           format('SELECT %s', (SELECT string_agg(format('has_%s_privilege(%L, %s, %L) = %L',
                                                        CASE WHEN c.relkind = 'S' THEN 'sequence' ELSE 'table' END,
                                                        r.who, c.oid, p,
                                                        CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(r.who, c.oid, p)
                                                             ELSE has_table_privilege(r.who, c.oid, p) END), ' AND ')
                                  FROM unnest(CASE WHEN c.relkind = 'S' THEN '{USAGE,SELECT,UPDATE}'::text[]
                                                   ELSE '{SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER}'::text[] END) p))
       END
FROM pg_class c
JOIN priv.relation_ops o ON o.relkind = c.relkind
CROSS JOIN (VALUES ('priv_mallory'), ('priv_member'), ('priv_nobody'), ('priv_admin')) r(who)
WHERE c.relnamespace = 'coord'::regnamespace
  -- What the README grants: coord_user reads the views and coord.alerts.
  AND NOT (o.op = 'SELECT' AND r.who <> 'priv_nobody' AND has_table_privilege('coord_user', c.oid, 'SELECT'));

-- Schema, extension, roles, settings, signals: what would let a role around
-- the functions.
INSERT INTO priv.attempts (part, who, what, statement, expect)
SELECT 'schema, extension, roles', r.who, s.what, s.statement, s.expect
FROM (VALUES
    ('CREATE TABLE in coord', 'CREATE TABLE coord.priv_x (x integer)', '{42501}'::text[]),
    ('CREATE FUNCTION in coord (an overload of acquire)',
     'CREATE FUNCTION coord.acquire(name text) RETURNS bigint LANGUAGE sql AS ''SELECT 1::bigint''', '{42501}'),
    ('CREATE VIEW in coord', 'CREATE VIEW coord.priv_v AS SELECT 1 AS x', '{42501}'),
    ('CREATE SEQUENCE in coord', 'CREATE SEQUENCE coord.priv_s', '{42501}'),
    ('CREATE TYPE in coord', 'CREATE TYPE coord.priv_t AS (x integer)', '{42501}'),
    ('CREATE OPERATOR in coord',
     'CREATE OPERATOR coord.=== (LEFTARG = text, RIGHTARG = text, FUNCTION = pg_catalog.texteq)', '{42501}'),
    ('ALTER SCHEMA coord RENAME', 'ALTER SCHEMA coord RENAME TO priv_coord', '{42501}'),
    ('ALTER SCHEMA coord OWNER', 'ALTER SCHEMA coord OWNER TO CURRENT_USER', '{42501}'),
    ('DROP SCHEMA coord', 'DROP SCHEMA coord CASCADE', '{42501}'),
    ('DROP EXTENSION', 'DROP EXTENSION pg_coord CASCADE', '{42501}'),
    ('ALTER EXTENSION UPDATE', 'ALTER EXTENSION pg_coord UPDATE', '{42501}'),
    ('ALTER EXTENSION SET SCHEMA', 'ALTER EXTENSION pg_coord SET SCHEMA public', '{42501}'),
    ('ALTER EXTENSION DROP FUNCTION', 'ALTER EXTENSION pg_coord DROP FUNCTION coord.force_release(text)', '{42501}'),
    ('GRANT coord_admin to oneself', 'GRANT coord_admin TO CURRENT_USER', '{42501}'),
    ('GRANT coord_user to oneself', 'GRANT coord_user TO CURRENT_USER', '{42501}'),
    ('ALTER ROLE SUPERUSER', 'ALTER ROLE CURRENT_USER SUPERUSER', '{42501}'),
    ('CREATE ROLE IN ROLE coord_admin', 'CREATE ROLE priv_new IN ROLE coord_admin', '{42501}'),
    ('DROP ROLE coord_admin', 'DROP ROLE coord_admin', '{42501}'),
    ('LOAD the library', 'LOAD ''pg_coord''', '{42501}'),
    ('pg_reload_conf', 'SELECT pg_catalog.pg_reload_conf()', '{42501}')
) s(what, statement, expect)
CROSS JOIN (VALUES ('priv_mallory'), ('priv_member'), ('priv_nobody'), ('priv_admin')) r(who)
;
-- Signals to the background worker (its pid, which other roles cannot see).
INSERT INTO priv.attempts (part, who, what, statement)
SELECT 'schema, extension, roles', r.who, s.what || ' the background worker', format(s.statement, a.pid)
FROM pg_stat_activity a
CROSS JOIN (VALUES ('terminate', 'SELECT pg_catalog.pg_terminate_backend(%s)'),
                   ('cancel', 'SELECT pg_catalog.pg_cancel_backend(%s)')) s(what, statement)
CROSS JOIN (VALUES ('priv_mallory'), ('priv_member'), ('priv_nobody'), ('priv_admin')) r(who)
WHERE a.backend_type = 'pg_coord sweeper';
-- (SET ROLE and SET SESSION AUTHORIZATION are decided by the session's
-- login role, the superuser here: the run script tries them from real
-- logins.)
-- The settings: a superuser-only one is 42501 to SET, a reload/restart one
-- 55P02; ALTER ROLE / DATABASE SET of a superuser-only one is 42501.
INSERT INTO priv.attempts (part, who, what, statement, expect)
SELECT 'settings', r.who, format('%s %s', v.how, s.name), format(v.statement, s.name, s.setting),
       CASE WHEN s.context = 'superuser' THEN '{42501}'::text[] ELSE '{55P02,42501}'::text[] END
FROM pg_settings s
CROSS JOIN (VALUES ('SET', 'SET %s = %L'), ('ALTER ROLE SET', 'ALTER ROLE CURRENT_USER SET %s = %L'),
                   ('ALTER DATABASE SET', 'ALTER DATABASE postgres SET %s = %L')) v(how, statement)
CROSS JOIN (VALUES ('priv_mallory'), ('priv_nobody'), ('priv_admin')) r(who)
WHERE s.name LIKE 'coord.%' AND s.context IN ('superuser', 'sighup', 'postmaster')
  AND NOT (v.how = 'ALTER ROLE SET' AND s.context <> 'superuser');
UPDATE priv.attempts SET expect = '{42501,55P02}' WHERE part = 'settings' AND what LIKE 'ALTER ROLE SET%';

-- Every function's definition: owner, SECURITY DEFINER, search_path, drop,
-- rename, comment, grant.
INSERT INTO priv.attempts (part, who, what, statement, expect, check_sql)
SELECT 'function definitions', r.who, d.what || ' ' || f.fn::text, format(d.statement, f.fn::text),
       CASE WHEN d.silent THEN '{42501,ok}'::text[] ELSE '{42501}'::text[] END,
       CASE WHEN d.silent THEN format('SELECT has_function_privilege(%L, %L, ''EXECUTE'') = %L',
                                      r.who, f.fn::text, has_function_privilege(r.who, f.fn, 'EXECUTE')) END
FROM priv.functions f
CROSS JOIN (VALUES ('SECURITY DEFINER', 'ALTER FUNCTION %s SECURITY DEFINER', false),
                   ('OWNER', 'ALTER FUNCTION %s OWNER TO CURRENT_USER', false),
                   ('SET search_path', 'ALTER FUNCTION %s SET search_path = public', false),
                   ('RENAME', 'ALTER FUNCTION %s RENAME TO priv_f', false),
                   ('COMMENT', 'COMMENT ON FUNCTION %s IS ''priv''', false),
                   ('DROP', 'DROP FUNCTION %s CASCADE', false),
                   ('GRANT', 'GRANT EXECUTE ON FUNCTION %s TO CURRENT_USER', true)) d(what, statement, silent)
CROSS JOIN (VALUES ('priv_mallory'), ('priv_nobody'), ('priv_admin')) r(who);

-- ---- 3. acting on another role's lease, task, ledger entry, term, key ------
-- mallory knows alice's owner strings, tokens and ids; alice's member
-- inherits her privileges (reads) but acts only after SET ROLE.
CREATE TABLE priv.cross_role (what text, statement text, expect text[] DEFAULT '{42501}', read_leak boolean DEFAULT false,
                              member_too boolean DEFAULT true);
INSERT INTO priv.cross_role (what, statement) VALUES
    ('renew her lease', $$SELECT coord.renew('priv_alice:lease', <lease_token>, '30 days')$$),
    ('release her lease', $$SELECT coord.release('priv_alice:lease', <lease_token>)$$),
    ('fence with her lease', $$SELECT coord.check_fence('priv_alice:lease', <lease_token>)$$),
    ('acquire with her owner string', $$SELECT coord.acquire('priv_alice:lease', 'priv_alice-owner', '30 days')$$),
    ('acquire with her owner string, waiting', $$SELECT coord.acquire('priv_alice:lease', 'priv_alice-owner', wait_for => '1 s')$$),
    ('acquire_all with her owner string', $$SELECT * FROM coord.acquire_all('{priv_alice:lease,priv_alice:all1}', 'priv_alice-owner')$$),
    ('post fenced by her lease', $$SELECT * FROM coord.ledger_post('priv-x', 'acct', 1, fence_name => 'priv_alice:lease', fence_token => <lease_token>)$$),

    ('settle her entry', $$SELECT coord.ledger_settle(<entry_id>, 'settled')$$),
    ('settle her entry, fenced by her lease', $$SELECT coord.ledger_settle(<entry_id>, 'failed', fence_name => 'priv_alice:lease', fence_token => <lease_token>)$$),
    ('heartbeat her claim', $$SELECT coord.heartbeat(<task_id>, <task_token>, '6 days')$$),
    ('complete her claim', $$SELECT coord.complete(<task_id>, <task_token>, '{"by": "mallory"}')$$),
    ('fail her claim', $$SELECT coord.fail(<task_id>, <task_token>, 'mallory')$$),
    ('retry her dead task', $$SELECT coord.retry_dead(<dead_task_id>)$$),
    ('continue her term', $$SELECT coord.campaign('priv_alice-election', 'priv_alice-cand', '30 days')$$),
    ('resign her term', $$SELECT coord.resign('priv_alice-election', <term>)$$),
    ('read her register', $$SELECT * FROM coord.register_get('priv_alice-key')$$),
    ('swap her register', $$SELECT * FROM coord.register_cas('priv_alice-key', <reg_version>, '{"by": "mallory"}')$$),
    ('close her auction early', $$SELECT * FROM coord.auction_close('priv_alice-auction')$$);
-- What a member of hers may read (and a replay returns her entry): only
-- mallory and nobody are refused.
INSERT INTO priv.cross_role (what, statement, member_too) VALUES
    ('replay her idempotency key', $$SELECT * FROM coord.ledger_post('priv_alice-cycle', 'acct', 1, idempotency_key => 'priv_alice-key')$$, false),
    ('read her task', $$SELECT * FROM coord.task(<task_id>)$$, false),
    ('enqueue into her queue', $$SELECT coord.enqueue('priv_alice-q', '{}')$$, false),
    ('claim from her queue', $$SELECT * FROM coord.claim('priv_alice-q', 'mallory-worker')$$, false),
    ('alter her queue', $$SELECT coord.queue_alter('priv_alice-q', max_attempts => 1)$$, false),
    ('pause her queue', $$SELECT coord.queue_pause('priv_alice-q')$$, false),
    ('drop her queue', $$SELECT coord.queue_drop('priv_alice-q2')$$, false),
    ('grant herself on her queue', $$SELECT coord.queue_grant('priv_alice-q', 'priv_mallory', 'consume')$$, false),
    ('read her dead task', $$SELECT * FROM coord.task(<dead_task_id>)$$, false);
-- A wrong token is PC001 for everyone (the token is checked before the role).
INSERT INTO priv.cross_role (what, statement, expect) VALUES
    ('renew her lease with a wrong token', $$SELECT coord.renew('priv_alice:lease', <lease_token> + 1)$$, '{PC001,42501}'),
    ('complete her claim with a wrong token', $$SELECT coord.complete(<task_id>, <task_token> + 1)$$, '{PC001,42501}');
-- Reads: how many of her secrets the statement returns (0 = refused).
INSERT INTO priv.cross_role (what, statement, expect, read_leak, member_too) VALUES
    ('her token in coord.leases', $$SELECT count(*) FROM coord.leases WHERE name = 'priv_alice:lease' AND token IS NOT NULL$$, '{ok,42501}', true, false),
    ('her entries in coord.ledger', $$SELECT count(*) FROM coord.ledger WHERE cycle_id = 'priv_alice-cycle'$$, '{ok,42501}', true, false),
    ('her cycle in coord.cycles', $$SELECT count(*) FROM coord.cycles WHERE cycle_id = 'priv_alice-cycle'$$, '{ok,42501}', true, false),
    ('her task''s error in coord.alerts', $$SELECT count(*) FROM coord.alerts WHERE detail::text LIKE '%priv_alice secret%'$$, '{ok,42501}', true, false),
    ('her payload in coord.alerts', $$SELECT count(*) FROM coord.alerts WHERE detail::text LIKE '%"secret"%'$$, '{ok,42501}', true, false);
INSERT INTO priv.attempts (part, who, what, statement, expect, read_leak)
SELECT 'another role''s holdings', r.who, c.what, priv.fill(c.statement, 'priv_alice'), c.expect, c.read_leak
FROM priv.cross_role c
CROSS JOIN (VALUES ('priv_mallory'), ('priv_member'), ('priv_nobody')) r(who)
WHERE r.who <> 'priv_member' OR c.member_too;
-- retry_dead is admin-only: a member is refused as any coord_user.

-- ---- 4. search_path hijacks -------------------------------------------------
-- With look-alike functions, aggregates, operators, types (public) and
-- relations (public and pg_temp) planted, each role calls every function
-- on its own fixtures and reads every view, under search_paths that put
-- the look-alikes first. Refusals are fine (admin-only functions for
-- mallory); what must not happen is a look-alike running.
INSERT INTO priv.attempts (part, who, what, statement, expect, path)
SELECT 'search_path hijack', r.who, f.fn::text || ' [' || p.path || ']', priv.fill(f.statement, r.who),
       '{ok,42501,22004,22023,PC001,PC002,PC003,PC004,42704,42710,55000}'::text[], p.path
FROM priv.functions f
CROSS JOIN (VALUES ('priv_eve'), ('priv_mallory')) r(who)
CROSS JOIN (VALUES ('public, pg_catalog'), ('pg_temp, public, pg_catalog'), ('"$user", public')) p(path)
UNION ALL
SELECT 'search_path hijack', r.who, 'SELECT ' || c.oid::regclass::text || ' [' || p.path || ']',
       'SELECT count(*) FROM ' || c.oid::regclass::text, '{ok}'::text[], p.path
FROM pg_class c
CROSS JOIN (VALUES ('priv_eve'), ('priv_mallory')) r(who)
CROSS JOIN (VALUES ('public, pg_catalog'), ('pg_temp, public, pg_catalog'), ('"$user", public')) p(path)
WHERE c.relnamespace = 'coord'::regnamespace AND c.relkind = 'v';
-- (count(*) in these statements: the caller's own, pg_catalog's or a
-- look-alike's; only a look-alike run inside pg_coord would be an escape, so
-- the reads are counted with the statement's own aggregate excluded below.)
UPDATE priv.attempts SET statement = replace(statement, 'SELECT count(*) FROM', 'SELECT 1 FROM')
WHERE part = 'search_path hijack' AND statement LIKE 'SELECT count(*) FROM%';

-- ---- controls: look-alikes the harness must catch (outside pg_coord) -------
INSERT INTO priv.attempts (part, who, what, statement, expect, path) VALUES
    ('control', 'priv_mallory', 'now() under public, pg_catalog', 'SELECT now()', '{ok}', 'public, pg_catalog'),
    ('control', 'priv_mallory', 'lease_state (pg_temp first)', 'SELECT 1 FROM lease_state', '{ok}', '"$user", public');

-- ---- the harness --------------------------------------------------------------
-- Each attempt in a subtransaction, as its role and with its search_path;
-- then the checks as the superuser; then rolled back, so that an attempt
-- that got through cannot change the next one's ground.
CREATE FUNCTION priv.run() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    a record;
    v_tables text; v_seqs text; v_hits text;
    v_state text; v_msg text; v_leaked bigint; v_check boolean; v_problem text;
    v_tables_after text; v_seqs_after text; v_hits_after text;
BEGIN
    FOR a IN SELECT * FROM priv.attempts ORDER BY id LOOP
        v_state := NULL; v_msg := NULL; v_leaked := NULL; v_check := NULL; v_problem := NULL;
        BEGIN
            v_tables := fault_check.checksum();
            v_seqs := fault_check.sequences();
            SELECT h.last_value || ':' || h.is_called INTO v_hits FROM public.hijack_hits h;
            PERFORM pg_catalog.set_config('role', a.who, true);
            PERFORM pg_catalog.set_config('search_path', a.path, true);
            BEGIN
                IF a.read_leak THEN
                    EXECUTE a.statement INTO v_leaked;
                ELSE
                    EXECUTE a.statement;
                END IF;
                v_state := 'ok';
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS v_state = RETURNED_SQLSTATE, v_msg = MESSAGE_TEXT;
            END;
            PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
            PERFORM pg_catalog.set_config('role', 'none', true);
            v_tables_after := fault_check.checksum();
            v_seqs_after := fault_check.sequences();
            SELECT h.last_value || ':' || h.is_called INTO v_hits_after FROM public.hijack_hits h;
            IF a.check_sql IS NOT NULL THEN
                EXECUTE a.check_sql INTO v_check;
            END IF;
            RAISE EXCEPTION USING ERRCODE = 'ZZ999';
        EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
            NULL;
        END;
        IF a.part = 'control' THEN
            v_problem := CASE WHEN v_hits_after = v_hits THEN 'the harness missed a look-alike' END;
        ELSIF v_hits_after <> v_hits THEN
            v_problem := 'a look-alike ran inside the call (search_path hijack)';
        ELSIF NOT (v_state = ANY (a.expect)) THEN
            v_problem := CASE WHEN v_state = 'ok' THEN 'not refused' ELSE 'unexpected SQLSTATE ' || v_state END;
        ELSIF a.read_leak AND v_state = 'ok' AND v_leaked <> 0 THEN
            v_problem := format('read %s rows it may not read', v_leaked);
        ELSIF v_check IS DISTINCT FROM true AND a.check_sql IS NOT NULL THEN
            v_problem := 'a privilege was gained';
        ELSIF a.part <> 'search_path hijack' AND v_state <> 'ok' AND
              (v_tables_after <> v_tables OR
               regexp_replace(v_seqs_after, 'token_allocator=[^;]*', '') <> regexp_replace(v_seqs, 'token_allocator=[^;]*', '')) THEN
            v_problem := 'refused, but a coord table or sequence changed';
        ELSIF a.part <> 'search_path hijack' AND v_state = 'ok' AND NOT a.read_leak AND
              v_tables_after <> v_tables THEN
            v_problem := 'a coord table changed';
        END IF;
        UPDATE priv.attempts SET outcome = v_state, message = v_msg, problem = v_problem,
               token_gap = v_state <> 'ok' AND v_seqs_after <> v_seqs,
               changed = CASE WHEN v_problem IS NOT NULL THEN
                   (SELECT string_agg(x, ' ') FROM unnest(string_to_array(v_tables_after || ';' || v_seqs_after, ';')) x
                     WHERE NOT x = ANY (string_to_array(v_tables || ';' || v_seqs, ';'))) END
        WHERE id = a.id;
    END LOOP;
END $$;

-- The session's own relation look-ups (psql's, this script's) must not see
-- the pg_temp look-alikes.
SET search_path = pg_catalog, pg_temp;
SELECT priv.run();

\o
-- ---- the report -----------------------------------------------------------------
\pset footer off
SELECT part, count(*) AS attempts, count(*) FILTER (WHERE problem IS NOT NULL) AS escapes,
       string_agg(DISTINCT outcome, ' ' ORDER BY outcome) AS outcomes
FROM priv.attempts WHERE part <> 'control' GROUP BY part ORDER BY min(id);
\pset tuples_only on
\pset format unaligned
SELECT 'ESCAPE' AS " ", part, who, what, outcome, problem, left(message, 160) AS message, changed
FROM priv.attempts WHERE problem IS NOT NULL AND part <> 'control' ORDER BY id;
SELECT format('control not caught: %s (%s %s)', what, outcome, message) FROM priv.attempts WHERE part = 'control' AND problem IS NOT NULL;
SELECT format('controls: %s of %s look-alike uses outside pg_coord caught by the harness',
              count(*) FILTER (WHERE problem IS NULL), count(*)) FROM priv.attempts WHERE part = 'control';
SELECT format('look-alikes planted: %s functions, %s aggregates, %s operators, %s types, %s relations (public and pg_temp)',
              count(*) FILTER (WHERE kind = 'function'), count(*) FILTER (WHERE kind = 'aggregate'),
              count(*) FILTER (WHERE kind = 'operator'), count(*) FILTER (WHERE kind = 'type'),
              count(*) FILTER (WHERE kind = 'relation')) AS " " FROM priv.lookalikes;
SELECT format('note: %s has no call in tests/faults/privileges/setup.sql (attempted with NULL arguments)', fn) AS " "
FROM priv.functions WHERE NOT has_call;
SELECT format('SECURITY DEFINER functions with search_path pinned to pg_catalog, pg_temp: %s of %s',
              count(*) FILTER (WHERE proconfig @> '{"search_path=pg_catalog, pg_temp"}'), count(*)) AS " "
FROM pg_proc WHERE pronamespace = 'coord'::regnamespace AND prosecdef;
-- A fencing token is unique and increasing, not dense: a call refused
-- half way (acquire_all after granting an earlier name) leaves a gap.
SELECT format('refused calls that used up a token number (a gap, never a repeat): %s (%s)', count(*),
              coalesce(string_agg(DISTINCT what, ', '), '-')) AS " "
FROM priv.attempts WHERE token_gap;
SELECT format('privileges: %s attempts, %s escapes, %s look-alike uses inside pg_coord (the background worker included)',
              (SELECT count(*) FROM priv.attempts WHERE part <> 'control'),
              (SELECT count(*) FROM priv.attempts WHERE problem IS NOT NULL AND part <> 'control'),
              (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.hijack_hits)
                  - (SELECT count(*) FROM priv.attempts WHERE part = 'control')) AS " ";
