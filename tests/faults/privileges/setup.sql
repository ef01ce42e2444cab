-- The privileges suite's roles, fixtures, look-alike objects and harness.
-- Run by the superuser; psql variable :names lists every identifier the
-- extension's SQL and C++ sources call (the run script finds them), the
-- candidates for look-alike functions and relations.
\set ON_ERROR_STOP 1
\o /dev/null
SET search_path = pg_catalog, pg_temp;
\ir ../checksum.sql

-- ---- roles ------------------------------------------------------------------
CREATE ROLE priv_alice LOGIN IN ROLE coord_user;          -- the victim: holds everything
CREATE ROLE priv_mallory LOGIN IN ROLE coord_user;        -- another API user
CREATE ROLE priv_member LOGIN IN ROLE priv_alice;         -- inherits alice's privileges (and coord_user)
CREATE ROLE priv_admin LOGIN IN ROLE coord_admin;         -- an administrator (not a superuser)
CREATE ROLE priv_nobody LOGIN;                            -- nothing granted
CREATE ROLE priv_eve LOGIN IN ROLE coord_admin;           -- an administrator planting look-alikes
GRANT CREATE ON SCHEMA public TO priv_mallory, priv_eve;

CREATE SCHEMA priv;
GRANT USAGE ON SCHEMA priv TO PUBLIC;
CREATE TABLE priv.fx (who text, key text, value text, PRIMARY KEY (who, key));
GRANT ALL ON priv.fx TO PUBLIC;

-- ---- fixtures: a role's own holdings and records, named <who>... ----------
CREATE FUNCTION priv.make_fixtures(who text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    v_task bigint; v_token bigint; v_dead bigint;
BEGIN
    -- Queues are explicit and belong to the role that created them.
    PERFORM coord.queue_create(q) FROM unnest(ARRAY[who || '-q', who || '-q2', who || '-dead']) q;
    INSERT INTO priv.fx VALUES (who, 'lease_token', coord.acquire(who || ':lease', who || '-owner', '1 hour')::text);
    PERFORM coord.enqueue(who || '-q', '{"secret": "payload"}');
    PERFORM coord.enqueue(who || '-q', '{"secret": "payload 2"}');
    SELECT c.task_id, c.token INTO v_task, v_token FROM coord.claim(who || '-q', who || '-worker', '1 hour') c;
    INSERT INTO priv.fx VALUES (who, 'task_id', v_task::text), (who, 'task_token', v_token::text);
    PERFORM coord.enqueue(who || '-dead', '{}', max_attempts => 1);
    SELECT c.task_id, c.token INTO v_dead, v_token FROM coord.claim(who || '-dead', who || '-worker') c;
    PERFORM coord.fail(v_dead, v_token, who || ' secret error');
    INSERT INTO priv.fx VALUES (who, 'dead_task_id', v_dead::text);
    INSERT INTO priv.fx SELECT who, 'entry_id', p.entry_id::text
      FROM coord.ledger_post(who || '-cycle', 'acct', 1, idempotency_key => who || '-key') p;
    INSERT INTO priv.fx VALUES (who, 'term', coord.campaign(who || '-election', who || '-cand', '1 hour')::text);
    INSERT INTO priv.fx SELECT who, 'reg_version', c.version::text
      FROM coord.register_cas(who || '-key', 0, '{"secret": "register"}') c;
    PERFORM coord.auction_open(who || '-auction', clock_timestamp() + interval '1 day', 0);
END $$;

-- Shards are not per role: one migration in progress, one shard without.
SELECT coord.shard_add('priv-shard', 'node-a'), coord.shard_add('priv-shard2', 'node-a');
INSERT INTO priv.fx SELECT 'shared', 'migration_id', coord.migration_start('priv-shard', 'node-b')::text;
INSERT INTO priv.fx SELECT 'shared', 'epoch', s.epoch::text FROM coord.shard_state s WHERE s.shard = 'priv-shard';

SET ROLE priv_alice;
SELECT priv.make_fixtures('priv_alice');
SET ROLE priv_eve;
SELECT priv.make_fixtures('priv_eve');
SET ROLE priv_mallory;
SELECT priv.make_fixtures('priv_mallory');
RESET ROLE;
-- Raise the alerts the fixtures cause now (the dead tasks), so that the
-- background worker's sweeps have nothing left to change while the
-- attempts run.
SELECT coord.sweep() IS NOT NULL AS swept;

-- <key> in a statement: that fixture of role `who` (or of 'shared'); <p>: who.
CREATE FUNCTION priv.fill(statement text, who text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT f.key, f.value FROM priv.fx f WHERE f.who IN (fill.who, 'shared') LOOP
        statement := replace(statement, '<' || r.key || '>', r.value);
    END LOOP;
    RETURN replace(statement, '<p>', who);
END $$;

-- ---- one valid call per function of schema coord ---------------------------
-- On the fixtures of the role that runs it. A function without a line here
-- (a new one) is still attempted, with NULL arguments (reported).
CREATE TABLE priv.calls (proname text PRIMARY KEY, statement text NOT NULL);
INSERT INTO priv.calls VALUES
    ('acquire', $$SELECT coord.acquire('<p>:lease', '<p>-owner', '1 hour')$$),
    ('acquire_all', $$SELECT * FROM coord.acquire_all('{<p>:lease,<p>:all1}', '<p>-owner', '1 hour')$$),
    ('auction_close', $$SELECT * FROM coord.auction_close('<p>-auction')$$),
    ('auction_open', $$SELECT coord.auction_open('<p>-auction-new', '2100-01-01 00:00:00+00', 0)$$),
    ('bid', $$SELECT * FROM coord.bid('<p>-auction', '<p>-bidder', 10)$$),
    ('campaign', $$SELECT coord.campaign('<p>-election', '<p>-cand', '1 hour')$$),
    ('check_fence', $$SELECT coord.check_fence('<p>:lease', <lease_token>)$$),
    ('check_route', $$SELECT coord.check_route('priv-shard', <epoch>)$$),
    ('claim', $$SELECT * FROM coord.claim('<p>-q', '<p>-worker', '1 hour')$$),
    ('complete', $$SELECT coord.complete(<task_id>, <task_token>, '{"ok": true}')$$),
    ('detect_deadlocks', $$SELECT coord.detect_deadlocks()$$),
    ('enqueue', $$SELECT coord.enqueue('<p>-q', '{"k": 1}')$$),
    ('fail', $$SELECT coord.fail(<task_id>, <task_token>, 'boom')$$),
    ('force_release', $$SELECT coord.force_release('<p>:lease')$$),
    ('heartbeat', $$SELECT coord.heartbeat(<task_id>, <task_token>, '1 hour')$$),
    ('leader', $$SELECT * FROM coord.leader('<p>-election')$$),
    ('leader_wait', $$SELECT * FROM coord.leader_wait('<p>-election', NULL, '0')$$),
    ('ledger_post', $$SELECT * FROM coord.ledger_post('<p>-cycle', 'acct', 1.5, idempotency_key => '<p>-key2',
                                                       fence_name => '<p>:lease', fence_token => <lease_token>)$$),
    ('ledger_settle', $$SELECT coord.ledger_settle(<entry_id>, 'settled')$$),
    ('migration_advance', $$SELECT coord.migration_advance(<migration_id>, 'dual_write')$$),
    ('migration_rollback', $$SELECT coord.migration_rollback(<migration_id>)$$),
    ('migration_start', $$SELECT coord.migration_start('priv-shard2', 'node-b')$$),
    ('new_token', $$SELECT coord.new_token(0)$$),
    ('pending_deadlocks', $$SELECT * FROM coord.pending_deadlocks()$$),
    ('register_cas', $$SELECT * FROM coord.register_cas('<p>-key', <reg_version>, '{"v": 2}')$$),
    ('register_get', $$SELECT * FROM coord.register_get('<p>-key')$$),
    ('release', $$SELECT coord.release('<p>:lease', <lease_token>)$$),
    ('renew', $$SELECT coord.renew('<p>:lease', <lease_token>, '1 hour')$$),
    ('report_applied', $$SELECT coord.report_applied('priv-shard', 'node-a', 1)$$),
    ('resign', $$SELECT coord.resign('<p>-election', <term>)$$),
    ('retry_dead', $$SELECT coord.retry_dead(<dead_task_id>)$$),
    ('route', $$SELECT * FROM coord.route('priv-shard')$$),
    ('shard_add', $$SELECT coord.shard_add('<p>-shard-new', 'node-a')$$),
    ('sweep', $$SELECT coord.sweep()$$),
    ('task', $$SELECT * FROM coord.task(<task_id>)$$),
    ('task_record', $$SELECT * FROM coord.task_record(<task_id>)$$),
    ('waiting_requests', $$SELECT * FROM coord.waiting_requests()$$),
    ('queue_create', $$SELECT coord.queue_create('<p>-q-new')$$),
    ('queue_alter', $$SELECT coord.queue_alter('<p>-q', max_attempts => 6)$$),
    ('queue_drop', $$SELECT coord.queue_drop('<p>-q2')$$),
    ('queue_grant', $$SELECT coord.queue_grant('<p>-q', 'priv_nobody', 'observe')$$),
    ('queue_revoke', $$SELECT coord.queue_revoke('<p>-q', 'priv_nobody', 'observe')$$),
    ('queue_pause', $$SELECT coord.queue_pause('<p>-q')$$),
    ('queue_resume', $$SELECT coord.queue_resume('<p>-q')$$),
    ('doc_append', $$SELECT * FROM coord.doc_append('<p>-doc', 'c1', 1, '\x01')$$),
    ('doc_load', $$SELECT * FROM coord.doc_load('<p>-doc')$$),
    ('doc_since', $$SELECT * FROM coord.doc_since('<p>-doc')$$),
    ('doc_snapshot', $$SELECT * FROM coord.doc_snapshot('<p>-doc', '{}', '\x00')$$),
    ('doc_state_vector', $$SELECT * FROM coord.doc_state_vector('<p>-doc')$$),
    ('board', $$SELECT * FROM coord.board('<p>-board')$$),
    ('shape_apply', $$SELECT * FROM coord.shape_apply('<p>-board', 's1', 'c1', 1, '{"x": 1}')$$),
    ('shape_apply_batch', $$SELECT * FROM coord.shape_apply_batch('<p>-board', '[]')$$),
    ('shape_delete', $$SELECT * FROM coord.shape_delete('<p>-board', 's1', 'c1', 2)$$),
    ('memory_lease_holdings', $$SELECT * FROM coord.memory_lease_holdings()$$);

-- Every function of schema coord with its call (or NULL arguments).
CREATE VIEW priv.functions AS
SELECT p.oid::regprocedure AS fn, p.proname::text AS proname,
       coalesce(c.statement,
                CASE WHEN p.prokind = 'p' THEN 'CALL ' ELSE 'SELECT * FROM ' END ||
                'coord.' || quote_ident(p.proname) || '(' ||
                coalesce((SELECT string_agg('NULL::' || quote_ident(n.nspname) || '.' || quote_ident(t.typname), ', ' ORDER BY a.i)
                            FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t_oid, i)
                            JOIN pg_type t ON t.oid = a.t_oid JOIN pg_namespace n ON n.oid = t.typnamespace), '') || ')')
           AS statement,
       c.statement IS NOT NULL AS has_call
FROM pg_proc p LEFT JOIN priv.calls c ON c.proname = p.proname
WHERE p.pronamespace = 'coord'::regnamespace AND p.prokind IN ('f', 'p');

-- ---- look-alikes (search_path hijacks), planted by priv_eve -----------------
-- Every one of them counts its use in public.hijack_hits (a sequence: not
-- undone by a rollback) and warns; it returns NULL, so a captured call goes
-- on as if nothing happened.
SET ROLE priv_eve;
CREATE SEQUENCE public.hijack_hits;
GRANT USAGE ON SEQUENCE public.hijack_hits TO PUBLIC;
CREATE TABLE public.hijack_log (what text);  -- unused by the check (a rollback would undo it)
CREATE FUNCTION public.hijack_hit(what text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_catalog.nextval('public.hijack_hits');
    RAISE WARNING 'search_path hijack: % ran as %', what, current_user;
    RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION public.hijack_hit(text) TO PUBLIC;
-- A relation's look-alike scans this (a function scan runs whatever columns
-- the query reads).
CREATE FUNCTION public.hijack_rows(what text) RETURNS SETOF boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN NEXT public.hijack_hit(what);
END $$;
RESET ROLE;

CREATE TABLE priv.lookalikes (kind text, what text, ddl text);
GRANT ALL ON priv.lookalikes TO PUBLIC;
-- Functions of pg_catalog the sources name (plain functions whose argument
-- and result types are all real types), and coord's own names, in public.
INSERT INTO priv.lookalikes
SELECT 'function', p.oid::regprocedure::text,
       format($f$CREATE FUNCTION public.%I(%s) RETURNS %s%s LANGUAGE plpgsql AS $b$
                  BEGIN PERFORM public.hijack_hit(%L); RETURN%s; END $b$$f$,
              p.proname,
              (SELECT string_agg(format('%I.%I', n.nspname, t.typname), ', ' ORDER BY a.i)
                 FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY a(t_oid, i)
                 JOIN pg_type t ON t.oid = a.t_oid JOIN pg_namespace n ON n.oid = t.typnamespace),
              CASE WHEN p.proretset THEN 'SETOF ' ELSE '' END,
              (SELECT format('%I.%I', n.nspname, t.typname) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                WHERE t.oid = p.prorettype),
              'public.' || p.oid::regprocedure::text,
              CASE WHEN p.proretset THEN '' ELSE ' NULL' END)
FROM pg_proc p
WHERE ((p.pronamespace = 'pg_catalog'::regnamespace AND p.proname = ANY (string_to_array(:'names', ' ')))
       OR p.pronamespace = 'coord'::regnamespace)
  AND p.prokind = 'f' AND p.proallargtypes IS NULL
  AND NOT EXISTS (SELECT FROM unnest(p.proargtypes::oid[] || p.prorettype) t JOIN pg_type y ON y.oid = t
                   WHERE y.typtype = 'p');
-- Aggregates the sources name, with one argument of a real type, and count(*).
INSERT INTO priv.lookalikes
SELECT 'aggregate', p.oid::regprocedure::text,
       format($f$CREATE FUNCTION public.%I(%s, %s) RETURNS %s LANGUAGE plpgsql AS $b$
                  BEGIN PERFORM public.hijack_hit(%L); RETURN $1; END $b$$f$,
              'hijack_sfunc_' || p.oid, format_type(p.proargtypes[0], NULL), format_type(p.proargtypes[0], NULL),
              format_type(p.proargtypes[0], NULL), 'public.' || p.oid::regprocedure::text) || ';' ||
       format('CREATE AGGREGATE public.%I(%s) (SFUNC = public.%I, STYPE = %s)', p.proname,
              format_type(p.proargtypes[0], NULL), 'hijack_sfunc_' || p.oid, format_type(p.proargtypes[0], NULL))
FROM pg_proc p JOIN pg_type t ON t.oid = p.proargtypes[0]
WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.prokind = 'a' AND p.pronargs = 1
  AND p.proname = ANY (string_to_array(:'names', ' ')) AND t.typtype <> 'p'
  AND p.prorettype = p.proargtypes[0];
INSERT INTO priv.lookalikes VALUES ('aggregate', 'count(*)',
    $d$CREATE FUNCTION public.hijack_count(bigint) RETURNS bigint LANGUAGE plpgsql AS $b$
           BEGIN PERFORM public.hijack_hit('public.count(*)'); RETURN $1 + 1; END $b$;
       CREATE AGGREGATE public.count(*) (SFUNC = public.hijack_count, STYPE = bigint, INITCOND = '0')$d$);
-- Operators of pg_catalog between the types pg_coord uses.
INSERT INTO priv.lookalikes
SELECT 'operator', o.oid::regoperator::text,
       format($f$CREATE FUNCTION public.%I(%s, %s) RETURNS %s LANGUAGE plpgsql AS $b$
                  BEGIN PERFORM public.hijack_hit(%L); RETURN NULL; END $b$$f$,
              'hijack_op_' || o.oid, format_type(o.oprleft, NULL), format_type(o.oprright, NULL),
              format_type(o.oprresult, NULL), 'public.' || o.oid::regoperator::text) || ';' ||
       format('CREATE OPERATOR public.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = public.%I)', o.oprname,
              format_type(o.oprleft, NULL), format_type(o.oprright, NULL), 'hijack_op_' || o.oid)
FROM pg_operator o
WHERE o.oprnamespace = 'pg_catalog'::regnamespace AND o.oprkind = 'b'
  AND o.oprname IN ('=', '<>', '<', '>', '<=', '>=', '+', '-', '||', '->', '->>', '@>', '?', '~~')
  AND o.oprleft IN ('text'::regtype, 'int8'::regtype, 'int4'::regtype, 'numeric'::regtype, 'timestamptz'::regtype,
                    'interval'::regtype, 'jsonb'::regtype, 'bool'::regtype, 'oid'::regtype, 'regrole'::regtype,
                    'name'::regtype, 'uuid'::regtype, '_text'::regtype, 'char'::regtype)
  AND o.oprright IN ('text'::regtype, 'int8'::regtype, 'int4'::regtype, 'numeric'::regtype, 'timestamptz'::regtype,
                     'interval'::regtype, 'jsonb'::regtype, 'bool'::regtype, 'oid'::regtype, 'regrole'::regtype,
                     'name'::regtype, 'uuid'::regtype, '_text'::regtype, 'char'::regtype);
-- Types the C++ SQL casts to, as domains whose check counts.
INSERT INTO priv.lookalikes
SELECT 'type', t, format('CREATE DOMAIN public.%I AS pg_catalog.%I CHECK (public.hijack_hit(%L))', t, t, 'public.' || t)
FROM unnest('{text,int8,int4,int2,numeric,timestamptz,interval,jsonb,json,bool,oid,regrole,regclass,name,uuid,float8}'::text[]) t;
-- Relations: coord's own names and pg_catalog's the sources name, as views
-- in public that count every scan.
INSERT INTO priv.lookalikes
SELECT 'relation', 'public.' || c.relname,
       format('CREATE VIEW public.%I AS SELECT h.hit FROM public.hijack_rows(%L) AS h(hit)', c.relname, 'public.' || c.relname)
FROM pg_class c
WHERE (c.relnamespace = 'coord'::regnamespace AND c.relkind IN ('r', 'v', 'S', 'p'))
   OR (c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind IN ('r', 'v')
       AND c.relname = ANY (string_to_array(:'names', ' ')));

SET ROLE priv_eve;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM priv.lookalikes ORDER BY kind, what LOOP
        BEGIN
            EXECUTE r.ddl;
            IF r.kind = 'relation' THEN
                EXECUTE format('GRANT SELECT ON %s TO PUBLIC', r.what);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'look-alike % % not planted: %', r.kind, r.what, SQLERRM;
            DELETE FROM priv.lookalikes WHERE kind = r.kind AND what = r.what;
        END;
    END LOOP;
END $$;
RESET ROLE;
-- The same relations in pg_temp (searched first for relations unless a
-- search_path names it later): temporary views of this session, which
-- runs the attempts.
SET ROLE priv_eve;
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM priv.lookalikes WHERE kind = 'relation' ORDER BY what LOOP
        EXECUTE replace(replace(r.ddl, 'CREATE VIEW public.', 'CREATE TEMPORARY VIEW '), '''public.', '''pg_temp.');
        EXECUTE format('GRANT SELECT ON pg_temp.%I TO PUBLIC', substr(r.what, length('public.') + 1));
    END LOOP;
END $$;
RESET ROLE;
INSERT INTO priv.lookalikes SELECT 'relation', replace(what, 'public.', 'pg_temp.'), NULL
FROM priv.lookalikes WHERE kind = 'relation';
