-- pg_coord install script, assembled by the Makefile from extension/sql/*.sql
-- in file-name order. Each part owns one feature.
\echo Use "CREATE EXTENSION pg_coord" to load this file. \quit

-- Roles are cluster-wide; create them once, keep them across reinstalls.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'coord_user') THEN
        CREATE ROLE coord_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'coord_admin') THEN
        CREATE ROLE coord_admin NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('coord_admin', 'coord_user', 'MEMBER') THEN
        GRANT coord_user TO coord_admin;
    END IF;
END
$$;

COMMENT ON SCHEMA coord IS 'pg_coord: leases with fencing tokens and the features built on them';
REVOKE ALL ON SCHEMA coord FROM PUBLIC;
GRANT USAGE ON SCHEMA coord TO coord_user;
-- Fencing tokens: one allocator for every holding (leases, task claims).
-- Both sequences are read and advanced by the extension's C code only
-- (src/pg/common/token_allocator.cpp); no role is granted anything on them.
-- README, "How tokens are allocated", gives the reasoning.

CREATE SEQUENCE coord.token_allocator AS bigint MINVALUE 1 MAXVALUE 140737488355327 NO CYCLE;
COMMENT ON SEQUENCE coord.token_allocator IS
    'The counter in the low 47 bits of every fencing token. Not transactional: a rolled-back grant''s '
    'token is never handed out again; its WAL is flushed before a token is returned. Kept by pg_dump.';
SELECT pg_catalog.pg_extension_config_dump('coord.token_allocator', '');

CREATE SEQUENCE coord.token_epoch AS bigint MINVALUE 0 START 0 NO CYCLE;
COMMENT ON SEQUENCE coord.token_epoch IS
    'Which token epoch (the high 16 bits of a token) this cluster''s timeline has, written once per '
    'timeline: the epoch grows with every promotion, and a dump or pg_upgrade carries it to the next '
    'cluster, whose tokens continue above. Not for hand edits. Kept by pg_dump.';
SELECT pg_catalog.pg_extension_config_dump('coord.token_epoch', '');

CREATE FUNCTION coord.new_token(last bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_new_token'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION coord.new_token(bigint) IS
    'Internal (the extension''s own SQL, e.g. a task claim): a fencing token never handed out before '
    'and larger than `last` (the name''s last token; NULL or 0: none). No role may call it.';
REVOKE ALL ON FUNCTION coord.new_token(bigint) FROM PUBLIC;
-- Lease locks with fencing tokens.
--
-- The lease functions have invoker rights (no SECURITY DEFINER): they act
-- for the role that calls them (a holding belongs to the role that took it),
-- read and write coord.lease_state directly (which needs no privilege), and
-- run what SQL they still need as the extension owner with a pinned
-- search_path (src/pg/common/run_as_owner.hpp). EXECUTE is what gates them.

CREATE TABLE coord.lease_state (
    name        text PRIMARY KEY,
    owner       text,                 -- NULL while free
    token       bigint NOT NULL,      -- last token issued; never decreases
    acquired_at timestamptz,          -- NULL while free
    expires_at  timestamptz,          -- NULL while free
    -- The role that took the holding (NULL while free): only it, or
    -- coord_admin, may act on the holding. regrole, so that pg_dump writes
    -- the role's name and a restore maps it to the same-named role (or
    -- fails loudly) instead of to whichever role has that OID there.
    holder_role regrole
    -- No CHECK constraints: only the coord.* functions write this table, and
    -- PostgreSQL re-parses CHECK expressions on every statement (a measured
    -- 14 % of an acquire). src/pg/leases/lease_row.cpp reads and writes the
    -- columns directly, by name and type.
) WITH (fillfactor = 70);  -- room for HOT updates: every acquire/release rewrites the row
COMMENT ON TABLE coord.lease_state IS
    'One row per lease name ever acquired. token is the last fencing token issued for the name and '
    'never decreases, also while the lease is free; holder_role is the role that took the current '
    'holding. Written only through the coord.* functions.';
SELECT pg_catalog.pg_extension_config_dump('coord.lease_state', '');

CREATE FUNCTION coord.acquire(name text, owner text, ttl interval DEFAULT '1 hour',
                              wait_for interval DEFAULT '0')
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_acquire'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.acquire(text, text, interval, interval) IS
    'Take the lease `name` for `owner` until now + ttl. Returns the fencing token, or NULL while '
    'another owner holds an unexpired lease (or, with wait_for > 0, when the wait ran out). Called '
    'again by the holder (the same owner, called by the role that took the holding; 42501 for '
    'another role) it returns the same token and extends the expiry; a new holding always '
    'gets a larger token than any before it. With wait_for > 0 it queues and waits (FIFO, woken '
    'when the lease is released or expires; 40P01 when chosen as a deadlock victim); a newcomer '
    'never takes a lease others are queued for. Waiting needs shared_preload_libraries = pg_coord.';

CREATE FUNCTION coord.renew(name text, token bigint, ttl interval DEFAULT '1 hour')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'coord_renew'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.renew(text, bigint, interval) IS
    'Extend the holding of `token` to now + ttl and return the new expiry. '
    'SQLSTATE PC001 (lease_lost) when token is not the current, unexpired holding; 42501 when the '
    'holding belongs to another role (unless the caller is coord_admin).';

CREATE FUNCTION coord.release(name text, token bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_release'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.release(text, bigint) IS
    'Free the lease if `token` is its current, unexpired holding (true); otherwise change nothing '
    '(false). Never releases another holder''s lease: 42501 when the holding belongs to another '
    'role (unless the caller is coord_admin).';

CREATE FUNCTION coord.force_release(name text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_force_release'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.force_release(text) IS
    'Administrators only (coord_admin): free the lease whoever holds it. True when a live holding '
    'was ended. The next holder still gets a larger token, so the old holder stays fenced out.';

CREATE FUNCTION coord.check_fence(name text, token bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'coord_check_fence'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.check_fence(text, bigint) IS
    'Raise PC001 (lease_lost) unless `token` is the current, unexpired holding of `name`, and 42501 '
    'when that holding belongs to another role (unless the caller is coord_admin). Call it in '
    'the transaction of a protected write: a stale holder''s write then rolls back. It keeps a share '
    'lock on the lease until the transaction ends, so a takeover waits for the write to finish.';

-- CURRENT_USER and pg_has_role are the reader's, not the view owner's.
CREATE VIEW coord.leases AS
SELECT l.name,
       l.owner,
       l.holder_role,
       CASE WHEN reader.is_admin OR l.holder_role OPERATOR(pg_catalog.=) reader.role
            THEN l.token END AS token,
       l.acquired_at,
       l.expires_at,
       -- Never negative, also after the server clock stepped back behind acquired_at.
       GREATEST(LEAST(pg_catalog.clock_timestamp(), l.expires_at) - l.acquired_at, interval '0')
           AS held_for,
       l.expires_at <= pg_catalog.clock_timestamp() AS expired
FROM coord.lease_state l,
     (SELECT (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)::pg_catalog.regrole AS role,
             pg_catalog.pg_has_role('coord_admin', 'USAGE') AS is_admin) reader
WHERE l.owner IS NOT NULL;
COMMENT ON VIEW coord.leases IS
    'Leases with a holder: owner, the role that took the holding, fencing token (NULL unless the '
    'holding is the reader''s role''s, or the reader is coord_admin), when acquired and until when, '
    'how long held so far, and whether the holding has expired (an expired lease is free for the '
    'next acquire).';

GRANT EXECUTE ON FUNCTION coord.acquire(text, text, interval, interval), coord.renew(text, bigint, interval),
    coord.release(text, bigint), coord.check_fence(text, bigint) TO coord_user;
GRANT EXECUTE ON FUNCTION coord.force_release(text) TO coord_admin;
GRANT SELECT ON coord.leases TO coord_user;
-- Waiting for leases: FIFO queues in shared memory, acquire_all, the
-- wait-for graph among owners and the history of broken deadlocks.
-- (coord.acquire's wait_for parameter is in 10_leases.sql.)

CREATE FUNCTION coord.acquire_all(names text[], owner text, ttl interval DEFAULT '1 hour',
                                  wait_for interval DEFAULT '0')
RETURNS TABLE (name text, token bigint)
AS 'MODULE_PATHNAME', 'coord_acquire_all'
LANGUAGE C VOLATILE;  -- invoker rights, as coord.acquire (10_leases.sql)
COMMENT ON FUNCTION coord.acquire_all(text[], text, interval, interval) IS
    'Take every lease in `names` for `owner`, all or nothing: one row (name, token) per distinct '
    'name in canonical (sorted) order, or no row when they could not all be taken (within wait_for); '
    '42501 when the owner already holds one of them under another role. '
    'It never holds part of the set while it waits, and takes the rows in one canonical order, so two '
    'acquire_all calls cannot deadlock each other. At most 100 names.';

CREATE FUNCTION coord.waiting_requests()
RETURNS TABLE (name text, owner text, waiting_since timestamptz, "position" integer, pid integer,
               wait_until timestamptz)
AS 'MODULE_PATHNAME', 'coord_waiting_requests'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.waiting_requests() IS
    'Callers of this database asleep waiting for a lease, read from shared memory (one row per '
    'lease name a request waits for). Use the view coord.waiters.';

CREATE VIEW coord.waiters AS
SELECT name, owner, waiting_since, "position", pid
FROM coord.waiting_requests();
COMMENT ON VIEW coord.waiters IS
    'Who waits for which lease: owner, since when, place in the FIFO queue of that name (1 = next '
    'to be served) and the backend pid (for pg_cancel_backend).';

CREATE VIEW coord.wait_graph AS
SELECT w.owner AS waiter, w.name, l.owner AS holder, w.waiting_since, 'held'::text AS edge
FROM coord.waiting_requests() w
JOIN coord.lease_state l ON l.name = w.name
WHERE l.owner IS NOT NULL AND l.expires_at > pg_catalog.clock_timestamp() AND l.owner <> w.owner
UNION ALL
SELECT w.owner, w.name, a.owner, w.waiting_since, 'queued'
FROM coord.waiting_requests() w
CROSS JOIN LATERAL (
    SELECT q.owner FROM coord.waiting_requests() q
    WHERE q.name = w.name AND q."position" < w."position" AND q.owner <> w.owner
    ORDER BY q."position" DESC LIMIT 1) a;
COMMENT ON VIEW coord.wait_graph IS
    'Edges "owner waits for owner": waiter waits for lease name, which holder holds (edge = held) '
    'or which holder is queued ahead for (edge = queued; FIFO serves it first). A cycle here is a '
    'deadlock; the waiters break it (see coord.deadlocks).';

CREATE TABLE coord.deadlock_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    detected_at timestamptz NOT NULL,
    cycle       jsonb NOT NULL,
    cycle_text  text NOT NULL,
    victim      text NOT NULL,
    victim_name text NOT NULL,
    victim_pid  integer,
    reason      text NOT NULL
);
COMMENT ON TABLE coord.deadlock_history IS
    'Deadlocks among lease owners that were broken, written after detection by a transaction that '
    'commits (not the victim''s, which aborts). Read coord.deadlocks, which also shows the ones not '
    'written yet.';
SELECT pg_catalog.pg_extension_config_dump('coord.deadlock_history', '');

CREATE FUNCTION coord.pending_deadlocks()
RETURNS TABLE (detected_at timestamptz, cycle text, cycle_text text, victim text,
               victim_name text, victim_pid integer, reason text)
AS 'MODULE_PATHNAME', 'coord_pending_deadlocks'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.pending_deadlocks() IS
    'Deadlocks detected in this database and kept in shared memory until a committing transaction '
    'has written them to coord.deadlock_history. Use the view coord.deadlocks.';

CREATE VIEW coord.deadlocks AS
SELECT detected_at, cycle, cycle_text, victim, victim_name, victim_pid, reason
FROM coord.deadlock_history
UNION ALL
SELECT detected_at, cycle::jsonb, cycle_text, victim, victim_name, victim_pid, reason
FROM coord.pending_deadlocks();
COMMENT ON VIEW coord.deadlocks IS
    'History of deadlocks among lease owners: when, the cycle in order (jsonb: waiter, name, holder, '
    'edge; and as text), the victim owner and the lease it waited for, its pid, and why it was chosen.';

CREATE FUNCTION coord.detect_deadlocks()
RETURNS integer
AS 'MODULE_PATHNAME', 'coord_detect_deadlocks'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.detect_deadlocks() IS
    'Administrators only: check the whole wait-for graph of this database now, cancel one victim per '
    'cycle (youngest wait) and write pending deadlock records. Returns the number of cycles broken.';

GRANT EXECUTE ON FUNCTION coord.acquire_all(text[], text, interval, interval),
    coord.waiting_requests(), coord.pending_deadlocks() TO coord_user;
GRANT EXECUTE ON FUNCTION coord.detect_deadlocks() TO coord_admin;
GRANT SELECT ON coord.waiters, coord.wait_graph, coord.deadlocks TO coord_user;
-- Alerts raised by the sweep (coord.sweep() and the background worker), and
-- the sweep itself. Every feature plugs its checks into the sweep as steps.

CREATE TABLE coord.alerts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind <> ''),
    subject     text NOT NULL CHECK (subject <> ''),
    detail      jsonb NOT NULL DEFAULT '{}',
    raised_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    resolved_at timestamptz,
    CONSTRAINT alerts_resolved_after_raised CHECK (resolved_at IS NULL OR resolved_at >= raised_at)
);
-- One open alert per (kind, subject): a condition that keeps firing does not flood.
CREATE UNIQUE INDEX alerts_one_open ON coord.alerts (kind, subject) WHERE resolved_at IS NULL;
CREATE INDEX alerts_raised_at ON coord.alerts (raised_at);
COMMENT ON TABLE coord.alerts IS
    'Alerts raised by the sweep (background worker or coord.sweep()): kind (lease_held_too_long, '
    'task_stuck, task_dead, ...), subject (the lease name, task id, ...), detail, when raised and '
    'when resolved (NULL while open). At most one open alert per (kind, subject); an alert resolves '
    'itself when its condition ends. Each raise and resolve is also sent as NOTIFY coord_alerts '
    'with a JSON payload and written to the server log.';
COMMENT ON COLUMN coord.alerts.kind IS 'What is wrong: lease_held_too_long, task_stuck, task_dead, ...';
COMMENT ON COLUMN coord.alerts.subject IS 'What it is wrong with: a lease name, a task id, ...';
COMMENT ON COLUMN coord.alerts.detail IS 'Facts at the time the alert was raised (JSON object).';
COMMENT ON COLUMN coord.alerts.resolved_at IS 'When the condition ended; NULL while the alert is open.';
SELECT pg_catalog.pg_extension_config_dump('coord.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('coord.alerts_id_seq', '');

CREATE FUNCTION coord.sweep()
RETURNS jsonb
AS 'MODULE_PATHNAME', 'coord_sweep'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.sweep() IS
    'One pass of everything the background worker does (requeue expired task claims, prune '
    'completed tasks, raise and resolve alerts, and every other registered step), in the calling '
    'transaction. Returns the counts of what each step did as a JSON object. For installs without '
    'the background worker, and for tests. Concurrent sweeps take turns; one that waited a whole '
    'coord.sweep_interval for another runs alongside it (every step is a compare-and-set and skips '
    'rows another transaction holds), so a sweep left open in a transaction stalls nothing.';

GRANT SELECT ON coord.alerts TO coord_user;
GRANT EXECUTE ON FUNCTION coord.sweep() TO coord_user;
-- Idempotent, fenced billing ledger.

CREATE TABLE coord.ledger_entries (
    entry_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Keys compare byte-wise (COLLATE "C"): cheaper than a linguistic
    -- collation in every index search, and the order src/pg/ledger/ledger_store.cpp
    -- searches the idempotency key index in.
    idempotency_key text COLLATE "C" NOT NULL,
    cycle_id        text COLLATE "C" NOT NULL,
    account         text COLLATE "C" NOT NULL,
    amount          numeric NOT NULL,     -- non-zero, at most the currency's decimal places
    currency        text NOT NULL,        -- 3 upper-case letters
    -- ledger_post writes entry_id, status and created_at itself, with the
    -- values of these defaults (src/pg/ledger/ledger_store.cpp).
    status          text NOT NULL DEFAULT 'pending',  -- pending, settled or failed
    external_ref    text,
    fence_name      text,                 -- both NULL or both set
    fence_token     bigint,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    settled_at      timestamptz,          -- NULL exactly while pending
    -- The role that posted the entry: only it (or coord_admin) may settle
    -- it; reading it needs its privileges (regrole: see coord.lease_state).
    posted_by       regrole NOT NULL,
    CONSTRAINT ledger_entries_idempotency_key UNIQUE (idempotency_key)
    -- No CHECK constraints: only coord.ledger_post/ledger_settle write this
    -- table and they validate every value (src/core/ledger/ledger.cpp, unit-tested);
    -- PostgreSQL re-parses CHECK expressions on every statement, a measured
    -- 16 % of a post. src/pg/ledger/ledger_store.cpp reads and writes the
    -- columns directly, by name and type.
);
CREATE INDEX ledger_entries_cycle ON coord.ledger_entries (cycle_id, account);
COMMENT ON TABLE coord.ledger_entries IS
    'One row per idempotency key: a charge of `amount` `currency` to `account` in billing cycle '
    '`cycle_id`, pending until settled or failed. Written only through coord.ledger_post and '
    'coord.ledger_settle; rows are never deleted.';
SELECT pg_catalog.pg_extension_config_dump('coord.ledger_entries', '');
SELECT pg_catalog.pg_extension_config_dump('coord.ledger_entries_entry_id_seq', '');

-- Not SECURITY DEFINER: the ledger functions act for the role that calls
-- them (an entry belongs to the role that posted it). coord.ledger_post runs
-- no SQL and resolves no name through search_path; it reads the key's entry
-- and the fencing lease through their unique indexes and inserts the entry
-- directly (src/pg/ledger/ledger_store.cpp), because setting and restoring
-- search_path on every call cost more than a tenth of a post. Where the
-- executor would do more (a trigger, a CHECK constraint, row-level security:
-- src/pg/common/direct_write.hpp), the insert goes through SQL, run as the
-- extension owner with search_path pinned (src/pg/common/run_as_owner.hpp),
-- as is coord.ledger_settle's SQL. EXECUTE is granted to coord_user only.
CREATE FUNCTION coord.ledger_post(cycle_id text, account text, amount numeric,
                                  currency text DEFAULT 'USD', idempotency_key text DEFAULT NULL,
                                  fence_name text DEFAULT NULL, fence_token bigint DEFAULT NULL)
RETURNS TABLE(entry_id bigint, inserted boolean, status text)
AS 'MODULE_PATHNAME', 'coord_ledger_post'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.ledger_post(text, text, numeric, text, text, text, bigint) IS
    'Record a pending charge once per idempotency key (default: derived from cycle_id and account). '
    'A repeat of the same post returns the existing entry with inserted = false; the same key with '
    'another cycle_id, account, amount or currency raises PC002 and writes nothing. With '
    'fence_name/fence_token the post is written only while that token holds the lease (else PC001), '
    'in the same transaction. Amounts: finite, non-zero, at most the currency''s ISO 4217 decimal '
    'places (2 by default). The entry belongs to the calling role; 42501 for a fence held by another '
    'role and for a key whose entry the caller may not read (posted by a role whose privileges it '
    'lacks).';

CREATE FUNCTION coord.ledger_settle(entry_id bigint, status text, external_ref text DEFAULT NULL,
                                    fence_name text DEFAULT NULL, fence_token bigint DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_ledger_settle'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.ledger_settle(bigint, text, text, text, bigint) IS
    'Record the payment provider''s answer for a pending entry: status ''settled'' or ''failed'', '
    'with its reference. True when the entry moved; false when it already had exactly this status '
    'and external_ref; PC002 when it was settled differently. An entry never returns to pending. '
    'Fenced like coord.ledger_post. 42501 for an entry posted by another role (unless the caller is '
    'coord_admin).';

-- Only the entries the reader may read: pg_has_role is the reader's (not the
-- view owner's). security_barrier: a reader's own functions in WHERE run
-- only on those rows.
CREATE VIEW coord.ledger WITH (security_barrier) AS
SELECT entry_id, cycle_id, account, amount, currency, idempotency_key, status, external_ref,
       fence_name, fence_token, created_at, settled_at, posted_by
FROM coord.ledger_entries
WHERE (SELECT pg_catalog.pg_has_role('coord_admin', 'USAGE'))
   OR pg_catalog.pg_has_role(posted_by, 'USAGE');
COMMENT ON VIEW coord.ledger IS
    'The ledger entries the reader may read (posted by a role whose privileges it has; coord_admin: '
    'all): the charge, its idempotency key (pass it to the payment provider), its status (pending, '
    'settled, failed), the provider''s reference, the lease fence it was posted under, and the role '
    'that posted it.';

CREATE VIEW coord.cycles AS
SELECT cycle_id,
       pg_catalog.count(*) AS entries,
       pg_catalog.count(*) FILTER (WHERE status = 'pending') AS pending,
       pg_catalog.count(*) FILTER (WHERE status = 'settled') AS settled,
       pg_catalog.count(*) FILTER (WHERE status = 'failed') AS failed,
       CASE WHEN pg_catalog.count(DISTINCT currency) = 1
            THEN COALESCE(pg_catalog.sum(amount) FILTER (WHERE status = 'settled'), 0)
       END AS total_settled,
       pg_catalog.min(created_at) AS first_post_at,
       pg_catalog.max(created_at) AS last_post_at,
       CASE WHEN pg_catalog.count(DISTINCT currency) = 1 THEN pg_catalog.min(currency) END
           AS currency
FROM coord.ledger
GROUP BY cycle_id;
COMMENT ON VIEW coord.cycles IS
    'One row per billing cycle, over the entries the reader may read (coord.ledger): how many '
    'entries, how many pending/settled/failed, the settled '
    'total, the first and last post. total_settled and currency are NULL when a cycle mixes '
    'currencies (amounts in different currencies are never added up): group coord.ledger by '
    'currency instead.';

GRANT EXECUTE ON FUNCTION coord.ledger_post(text, text, numeric, text, text, text, bigint),
    coord.ledger_settle(bigint, text, text, text, bigint) TO coord_user;
GRANT SELECT ON coord.ledger, coord.cycles TO coord_user;
-- Durable task queue with claim leases (pending -> processing -> complete |
-- pending again | dead), attempt history, and its sweep steps.
--
-- The task functions have invoker rights (as the lease functions,
-- 10_leases.sql): a task's payload belongs to the role that enqueued it, a
-- claim to the role that claimed; their SQL runs as the extension owner.
--
-- Hot path: coord.tasks holds only unfinished tasks (pending, processing) and
-- dead ones. A completed task moves to coord.tasks_complete in the transaction
-- that completes it, and is pruned from there after coord.completed_retention.
-- Claims use coord.tasks_due, a partial index of pending tasks only, so
-- neither the index nor the table a claim reads grows with history.

CREATE TABLE coord.tasks (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue            text NOT NULL,
    state            text NOT NULL,                 -- pending, processing or dead
    payload          jsonb NOT NULL,
    priority         integer NOT NULL,
    run_at           timestamptz NOT NULL,          -- pending: earliest start
    attempts         integer NOT NULL DEFAULT 0,    -- attempts started
    max_attempts     integer NOT NULL,
    dedupe_key       text,
    token            bigint NOT NULL DEFAULT 0,     -- the current (or last) claim's token
    worker           text,                          -- processing: the claimant
    execution_id     uuid,                          -- processing: the current attempt
    claimed_at       timestamptz,
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL,
    finished_at      timestamptz,                   -- dead: when
    last_error       text,
    -- Roles (regrole: see coord.lease_state). Who may read the task (payload,
    -- result, errors) follows from enqueued_by; only claimed_by (or
    -- coord_admin) may heartbeat, complete or fail the claim.
    enqueued_by      regrole NOT NULL,
    claimed_by       regrole                        -- processing: the claimant's role
    -- No CHECK constraints: PostgreSQL re-parses them for every statement that
    -- writes a row, and only the coord.* functions (which enforce the rules in
    -- src/core/queue/task.hpp) write here. Claimed fields are set exactly while
    -- state = 'processing'.
) WITH (fillfactor = 80,
       -- Every claimed task leaves a dead entry at the front of tasks_due until
       -- vacuumed, and claims scan past them: vacuum this table early and fast.
       autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000,
       autovacuum_vacuum_cost_delay = 1);
-- Claims: due pending tasks of a queue, highest priority first, then oldest.
CREATE INDEX tasks_due ON coord.tasks (queue, priority DESC, run_at, id) WHERE state = 'pending';
-- The sweep: expired and long-running claims.
CREATE INDEX tasks_processing ON coord.tasks (lease_expires_at) WHERE state = 'processing';
CREATE INDEX tasks_dead ON coord.tasks (id) WHERE state = 'dead';
-- At most one unfinished task per (queue, dedupe_key).
CREATE UNIQUE INDEX tasks_dedupe ON coord.tasks (queue, dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state <> 'dead';
COMMENT ON TABLE coord.tasks IS
    'Unfinished tasks (pending, processing) and dead-lettered ones. Completed tasks move to '
    'coord.tasks_complete. Written only through the coord.* task functions and the sweep.';
SELECT pg_catalog.pg_extension_config_dump('coord.tasks', '');
SELECT pg_catalog.pg_extension_config_dump('coord.tasks_id_seq', '');

CREATE TABLE coord.tasks_complete (
    id           bigint PRIMARY KEY,
    queue        text NOT NULL,
    payload      jsonb NOT NULL,
    priority     integer NOT NULL,
    attempts     integer NOT NULL,
    max_attempts integer NOT NULL,
    dedupe_key   text,
    token        bigint NOT NULL,                  -- the claim that completed it
    created_at   timestamptz NOT NULL,
    completed_at timestamptz NOT NULL,
    -- The completing attempt (the earlier ones are in coord.task_attempts).
    execution_id uuid NOT NULL,
    worker       text NOT NULL,
    started_at   timestamptz NOT NULL,
    result       jsonb,
    enqueued_by  regrole NOT NULL,
    claimed_by   regrole NOT NULL                   -- the completing claim's role
);
-- Completion times only grow: a BRIN index finds what to prune at almost no
-- cost per completion.
CREATE INDEX tasks_complete_completed_at ON coord.tasks_complete USING brin (completed_at)
    WITH (autosummarize = on);
COMMENT ON TABLE coord.tasks_complete IS
    'Completed tasks, moved out of coord.tasks when completed, with the completing attempt '
    '(execution_id, worker, started_at, result); pruned by the sweep after '
    'coord.completed_retention (default 7 days), together with their earlier attempts.';
SELECT pg_catalog.pg_extension_config_dump('coord.tasks_complete', '');

CREATE TABLE coord.task_attempts (
    task_id      bigint NOT NULL,
    attempt      integer NOT NULL,
    token        bigint NOT NULL,
    execution_id uuid NOT NULL,
    worker       text NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    outcome      text NOT NULL,                    -- failed or expired
    error        text,
    result       jsonb,
    PRIMARY KEY (task_id, attempt)
);
COMMENT ON TABLE coord.task_attempts IS
    'One row per failed attempt (failed, or expired: the claim ran out and the sweep requeued '
    'the task). The attempt in progress is in coord.tasks, the completing one in '
    'coord.tasks_complete; coord.task() shows them all. Kept as long as the task.';
SELECT pg_catalog.pg_extension_config_dump('coord.task_attempts', '');

CREATE FUNCTION coord.enqueue(queue text, payload jsonb, run_at timestamptz DEFAULT NULL,
                              priority integer DEFAULT 0, max_attempts integer DEFAULT 5,
                              dedupe_key text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_enqueue'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.enqueue(text, jsonb, timestamptz, integer, integer, text) IS
    'Add a task to `queue` and return its id; the task''s payload belongs to the calling role '
    '(see coord.task). run_at: earliest start (default now); priority: '
    'higher first; max_attempts: attempts before dead-lettering. With dedupe_key, while a task of '
    'the queue with that key is pending or processing, its id is returned and nothing is added.';

CREATE FUNCTION coord.claim(queue text, worker text, ttl interval DEFAULT '10 minutes',
                            batch integer DEFAULT 1)
RETURNS TABLE (task_id bigint, payload jsonb, attempt integer, token bigint, execution_id uuid)
AS 'MODULE_PATHNAME', 'coord_claim'
LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION coord.claim(text, text, interval, integer) IS
    'Claim up to `batch` due tasks of `queue` for `worker` until now + ttl: highest priority '
    'first, then oldest. Never gives a task to two claimants; concurrent claimers skip each '
    'other''s rows instead of waiting. Pass task_id and token to heartbeat, complete or fail, as '
    'the same role: the claims belong to it.';

CREATE FUNCTION coord.heartbeat(task_id bigint, token bigint, ttl interval DEFAULT '10 minutes')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'coord_heartbeat'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.heartbeat(bigint, bigint, interval) IS
    'Extend the claim `token` of a task to now + ttl; returns the new expiry. PC001 '
    '(lease_lost) when the claim was lost (requeued after it expired, or finished); 42501 when the '
    'claim belongs to another role (unless the caller is coord_admin).';

CREATE FUNCTION coord.complete(task_id bigint, token bigint, result jsonb DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_complete'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.complete(bigint, bigint, jsonb) IS
    'Mark the task complete under claim `token`, keeping `result` in its attempt history: true. '
    'Repeating the same completion returns false and changes nothing. PC001 (lease_lost) when '
    'token is not the task''s current claim; 42501 when the claim belongs to another role (unless '
    'the caller is coord_admin). Call it in the transaction of the task''s own writes so that they '
    'commit together.';

CREATE FUNCTION coord.fail(task_id bigint, token bigint, error text, retry_in interval DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'coord_fail'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.fail(bigint, bigint, text, interval) IS
    'Record a failed attempt under claim `token` and return the new state: pending (again after '
    'retry_in, or by default after exponential backoff with jitter: 1 s doubling per attempt, '
    'capped at 1 hour) or dead once max_attempts attempts were made. PC001 when token is not the '
    'current claim; 42501 when the claim belongs to another role (unless the caller is coord_admin).';

CREATE FUNCTION coord.retry_dead(task_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_retry_dead'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.retry_dead(bigint) IS
    'Administrators only (coord_admin): make a dead task pending again, due now, with one more '
    'attempt if its attempts were used up. True when a dead task was revived; false when the task '
    'is not dead. PC003 when another unfinished task of the queue has the same dedupe_key.';

CREATE FUNCTION coord.task_record(task_id bigint)
RETURNS TABLE (id bigint, queue text, state text, payload jsonb, priority integer,
               run_at timestamptz, attempts integer, max_attempts integer, dedupe_key text,
               token bigint, worker text, execution_id uuid, claimed_at timestamptz,
               lease_expires_at timestamptz, created_at timestamptz, finished_at timestamptz,
               last_error text, result jsonb, attempt_history jsonb,
               enqueued_by regrole, claimed_by regrole)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH ended AS (
        SELECT a.attempt, a.execution_id, a.worker, a.token, a.started_at, a.ended_at,
               a.outcome, a.error, NULL::jsonb AS result
        FROM coord.task_attempts a WHERE a.task_id = task_record.task_id
        UNION ALL
        SELECT c.attempts, c.execution_id, c.worker, c.token, c.started_at, c.completed_at,
               'complete', NULL, c.result
        FROM coord.tasks_complete c WHERE c.id = task_record.task_id
        UNION ALL
        SELECT p.attempts, p.execution_id, p.worker, p.token, p.claimed_at, NULL,
               'running', NULL, NULL
        FROM coord.tasks p WHERE p.id = task_record.task_id AND p.state = 'processing'
    ), history AS (
        SELECT COALESCE(jsonb_agg(jsonb_build_object(
                   'attempt', e.attempt, 'execution_id', e.execution_id, 'worker', e.worker,
                   'token', e.token, 'started_at', e.started_at, 'ended_at', e.ended_at,
                   'outcome', e.outcome, 'error', e.error, 'result', e.result)
                   ORDER BY e.attempt), '[]'::jsonb) AS attempts
        FROM ended e
    )
    SELECT t.id, t.queue, t.state, t.payload, t.priority, t.run_at, t.attempts, t.max_attempts,
           t.dedupe_key, t.token, t.worker, t.execution_id, t.claimed_at, t.lease_expires_at,
           t.created_at, t.finished_at, t.last_error, NULL::jsonb, h.attempts, t.enqueued_by,
           t.claimed_by
    FROM coord.tasks t, history h WHERE t.id = task_record.task_id
    UNION ALL
    SELECT c.id, c.queue, 'complete', c.payload, c.priority, NULL, c.attempts, c.max_attempts,
           c.dedupe_key, c.token, c.worker, c.execution_id, c.started_at, NULL, c.created_at,
           c.completed_at, NULL, c.result, h.attempts, c.enqueued_by, c.claimed_by
    FROM coord.tasks_complete c, history h WHERE c.id = task_record.task_id;
END
$$;
COMMENT ON FUNCTION coord.task_record(bigint) IS
    'Internal: the record coord.task() returns, with the roles that decide who may read it. Not '
    'granted to anyone; coord.task() runs it as the extension owner.';

CREATE FUNCTION coord.task(task_id bigint)
RETURNS TABLE (id bigint, queue text, state text, payload jsonb, priority integer,
               run_at timestamptz, attempts integer, max_attempts integer, dedupe_key text,
               token bigint, worker text, execution_id uuid, claimed_at timestamptz,
               lease_expires_at timestamptz, created_at timestamptz, finished_at timestamptz,
               last_error text, result jsonb, attempt_history jsonb)
AS 'MODULE_PATHNAME', 'coord_task'
LANGUAGE C VOLATILE ROWS 1;
COMMENT ON FUNCTION coord.task(bigint) IS
    'The whole record of a task, whatever its state (no row if it never existed or was pruned): '
    'its fields, the result of the attempt that completed it, and attempt_history, a JSON array '
    'of every attempt (attempt, execution_id, worker, token, started_at, ended_at, outcome '
    '[running, complete, failed, expired], error, result). 42501 unless the caller has the '
    'privileges of the role that enqueued the task, is the role of its current or completing claim, '
    'or is coord_admin.';

CREATE VIEW coord.queue_stats AS
WITH settings AS (
    SELECT pg_catalog.clock_timestamp() AS now,
           COALESCE(pg_catalog.current_setting('coord.task_stuck_alert_after', true), '30min')::interval
               AS stuck_after
), active AS (
    SELECT t.queue,
           count(*) FILTER (WHERE t.state = 'pending') AS pending,
           count(*) FILTER (WHERE t.state = 'pending' AND t.run_at <= s.now) AS due,
           count(*) FILTER (WHERE t.state = 'processing') AS processing,
           count(*) FILTER (WHERE t.state = 'dead') AS dead,
           s.now - min(t.run_at) FILTER (WHERE t.state = 'pending' AND t.run_at <= s.now)
               AS oldest_due_age,
           count(*) FILTER (WHERE t.state = 'processing' AND t.claimed_at < s.now - s.stuck_after)
               AS stuck_processing
    FROM coord.tasks t CROSS JOIN settings s
    GROUP BY t.queue, s.now
), done AS (
    SELECT c.queue, count(*) AS complete FROM coord.tasks_complete c GROUP BY c.queue
)
SELECT COALESCE(a.queue, d.queue) AS queue,
       COALESCE(a.pending, 0) AS pending,
       COALESCE(a.due, 0) AS due,
       COALESCE(a.processing, 0) AS processing,
       COALESCE(d.complete, 0) AS complete,
       COALESCE(a.dead, 0) AS dead,
       a.oldest_due_age,
       COALESCE(a.stuck_processing, 0) AS stuck_processing
FROM active a FULL JOIN done d ON d.queue = a.queue;
COMMENT ON VIEW coord.queue_stats IS
    'Per queue: pending tasks, due ones (pending and run_at reached), processing, complete (kept '
    'for coord.completed_retention), dead, the age of the oldest due task, and processing tasks '
    'claimed longer ago than coord.task_stuck_alert_after.';

GRANT EXECUTE ON FUNCTION
    coord.enqueue(text, jsonb, timestamptz, integer, integer, text),
    coord.claim(text, text, interval, integer),
    coord.heartbeat(bigint, bigint, interval),
    coord.complete(bigint, bigint, jsonb),
    coord.fail(bigint, bigint, text, interval),
    coord.task(bigint) TO coord_user;
GRANT EXECUTE ON FUNCTION coord.retry_dead(bigint) TO coord_admin;
GRANT SELECT ON coord.queue_stats TO coord_user;
-- Dual-write shard migrations: phases, routing epochs, version-aware reads,
-- stale-route checks and lag (README, "Shard migration").

CREATE TABLE coord.shard_state (
    shard        text PRIMARY KEY,
    node         text NOT NULL,          -- home: where the shard lives outside a migration
    epoch        bigint NOT NULL,        -- current routing epoch, from 1; only increases
    phase        text NOT NULL,          -- stable, or the latest migration's phase
    source       text,                   -- the latest migration's source and target
    target       text,
    migration_id bigint,                 -- the latest migration (active or finished)
    created_at   timestamptz NOT NULL
    -- coord.route reads this row by its primary key without SQL
    -- (src/pg/shards/shard_store.cpp), its columns by name and type.
);
COMMENT ON TABLE coord.shard_state IS
    'One row per shard: its home node, its current routing epoch and phase, and its latest '
    'migration. Written only through the coord.* shard functions.';

CREATE SEQUENCE coord.shard_migration_id_seq;
COMMENT ON SEQUENCE coord.shard_migration_id_seq IS 'Ids of coord.shard_migration_state.';

CREATE TABLE coord.shard_migration_state (
    id               bigint PRIMARY KEY DEFAULT pg_catalog.nextval('coord.shard_migration_id_seq'),
    shard            text NOT NULL REFERENCES coord.shard_state (shard),
    source           text NOT NULL,
    target           text NOT NULL,
    phase            text NOT NULL
        CHECK (phase IN ('copying', 'dual_write', 'cutover', 'complete', 'rolled_back')),
    started_at       timestamptz NOT NULL,
    phase_changed_at timestamptz NOT NULL,
    CHECK (source <> target)
);
ALTER SEQUENCE coord.shard_migration_id_seq OWNED BY coord.shard_migration_state.id;
-- One active migration per shard, also for writes that bypass the functions.
CREATE UNIQUE INDEX shard_migration_one_active ON coord.shard_migration_state (shard)
    WHERE phase IN ('copying', 'dual_write', 'cutover');
ALTER TABLE coord.shard_state ADD FOREIGN KEY (migration_id)
    REFERENCES coord.shard_migration_state (id);
COMMENT ON TABLE coord.shard_migration_state IS
    'Every shard migration: source and target node, phase (copying, dual_write, cutover, '
    'complete, rolled_back) and when it started and last changed phase.';

CREATE TABLE coord.shard_epoch_history (
    shard        text NOT NULL REFERENCES coord.shard_state (shard),
    epoch        bigint NOT NULL CHECK (epoch >= 1),
    phase        text NOT NULL,          -- stable, or the migration phase the epoch began with
    migration_id bigint REFERENCES coord.shard_migration_state (id),
    write_nodes  text[] NOT NULL,
    read_node    text NOT NULL,
    began_at     timestamptz NOT NULL,
    PRIMARY KEY (shard, epoch)
);
COMMENT ON TABLE coord.shard_epoch_history IS
    'One row per routing epoch of each shard: the phase and the write placement it began with. '
    'coord.check_route compares a writer''s epoch with the current one through it.';

CREATE TABLE coord.shard_watermark (
    shard       text NOT NULL REFERENCES coord.shard_state (shard),
    node        text NOT NULL,
    applied     bigint NOT NULL CHECK (applied >= 0),
    applied_at  timestamptz NOT NULL,    -- server time the watermark reached `applied`
    reported_at timestamptz NOT NULL,    -- server time of the node's last report
    PRIMARY KEY (shard, node)
    -- coord.route reads `applied` through the primary key without SQL
    -- (src/pg/shards/shard_store.cpp), by name and type.
) WITH (fillfactor = 70);
COMMENT ON TABLE coord.shard_watermark IS
    'The highest version each node reported having applied for a shard (never decreases), with '
    'the server times it was reached and last reported.';

CREATE TABLE coord.shard_source_reports (
    migration_id bigint NOT NULL,        -- deleted with the migration's end
    version      bigint NOT NULL CHECK (version >= 0),
    reported_at  timestamptz NOT NULL,
    PRIMARY KEY (migration_id, version)
);
COMMENT ON TABLE coord.shard_source_reports IS
    'While a migration is active: each source version the target has not applied yet, with the '
    'server time the source first reported it. lag_seconds of coord.migrations is read here; '
    'rows the target has applied are deleted as it reports.';

SELECT pg_catalog.pg_extension_config_dump('coord.shard_state', '');
SELECT pg_catalog.pg_extension_config_dump('coord.shard_migration_state', '');
SELECT pg_catalog.pg_extension_config_dump('coord.shard_migration_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('coord.shard_epoch_history', '');
SELECT pg_catalog.pg_extension_config_dump('coord.shard_watermark', '');
SELECT pg_catalog.pg_extension_config_dump('coord.shard_source_reports', '');

CREATE FUNCTION coord.shard_add(shard text, node text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_shard_add'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.shard_add(text, text) IS
    'Administrators (coord_admin): register `shard` on `node`; returns its routing epoch (1). '
    'Calling it again for the node the shard lives on returns the current epoch; another node '
    'raises 42710.';

CREATE FUNCTION coord.migration_start(shard text, target text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_migration_start'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.migration_start(text, text) IS
    'Administrators (coord_admin): start moving `shard` from its node to `target`; returns the '
    'migration id. Phase copying: writes and reads stay on the source, the target is a read-only '
    'replica being filled. Bumps the epoch. PC003 while the shard has an active migration.';

CREATE FUNCTION coord.migration_advance(migration_id bigint, phase text)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_migration_advance'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.migration_advance(bigint, text) IS
    'Administrators (coord_admin): take the next step copying -> dual_write -> cutover -> '
    'complete and return the shard''s new epoch. Any other step raises PC003 naming the current '
    'phase and the allowed next ones. Of two concurrent calls one wins, the other gets PC003.';

CREATE FUNCTION coord.migration_rollback(migration_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_migration_rollback'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.migration_rollback(bigint) IS
    'Administrators (coord_admin): from copying, dual_write or cutover, send all traffic back to '
    'the source (phase rolled_back; the target stays a replica) and return the new epoch. '
    'PC003 after complete or a previous rollback.';

-- Not SECURITY DEFINER: coord.route runs no SQL and resolves no name through
-- search_path; it reads coord.shard_state and coord.shard_watermark by their
-- primary keys directly (every client request calls it, see bench/route).
-- EXECUTE is granted to coord_user only.
CREATE FUNCTION coord.route(shard text, min_version bigint DEFAULT NULL)
RETURNS TABLE (epoch bigint, phase text, write_nodes text[], read_node text)
AS 'MODULE_PATHNAME', 'coord_route'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.route(text, bigint) IS
    'Where to write and read `shard` now: the routing epoch (stamp writes with it), the phase '
    '(stable when never migrated), the nodes to write to (authoritative first) and the node to '
    'read from. With min_version (the highest version the client has seen), read_node is a node '
    'that reported applying at least that version, or NULL when none has yet: never a node '
    'behind the client.';

CREATE FUNCTION coord.report_applied(shard text, node text, version bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'coord_report_applied'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.report_applied(text, text, bigint) IS
    '`node` (a placement of `shard`) reports the highest version it has applied. Watermarks only '
    'move forward: a lower or equal report only records that the node reported.';

CREATE FUNCTION coord.check_route(shard text, epoch bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'coord_check_route'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.check_route(text, bigint) IS
    'Raise PC004 (stale_route) when `epoch` is older than the shard''s current epoch and its '
    'write nodes differ from the current ones. Call it in the write path. It keeps a share lock '
    'on the shard until the transaction ends, so a phase change waits for the write to finish.';

CREATE VIEW coord.shards AS
SELECT s.shard,
       s.node,
       s.epoch,
       h.phase,
       h.write_nodes,
       h.read_node,
       s.migration_id,
       h.began_at AS epoch_began_at
FROM coord.shard_state s
JOIN coord.shard_epoch_history h ON h.shard = s.shard AND h.epoch = s.epoch;
COMMENT ON VIEW coord.shards IS
    'Every shard: its home node, current epoch, phase, write nodes and preferred read node, and '
    'its latest migration.';

CREATE VIEW coord.shard_watermarks AS
SELECT shard, node, applied, applied_at, reported_at,
       pg_catalog.clock_timestamp() - reported_at AS since_report
FROM coord.shard_watermark;
COMMENT ON VIEW coord.shard_watermarks IS
    'The applied version each node last reported per shard, when it was reached, and how long '
    'ago the node last reported.';

-- lag_seconds: 0 when the target has applied the source's watermark;
-- otherwise the seconds since the source first reported the oldest version
-- the target has not applied (counted from started_at when the source
-- reported it before the migration began). NULL once the migration is over.
CREATE VIEW coord.migrations AS
SELECT m.id,
       m.shard,
       m.source,
       m.target,
       m.phase,
       s.epoch,
       m.started_at,
       m.phase_changed_at,
       ws.applied AS source_version,
       wt.applied AS target_version,
       CASE WHEN m.phase IN ('copying', 'dual_write', 'cutover')
            THEN GREATEST(COALESCE(ws.applied, 0) - COALESCE(wt.applied, 0), 0) END AS lag_versions,
       CASE WHEN m.phase NOT IN ('copying', 'dual_write', 'cutover') THEN NULL
            WHEN COALESCE(wt.applied, 0) >= COALESCE(ws.applied, 0) THEN 0::float8
            ELSE GREATEST(0, EXTRACT(epoch FROM pg_catalog.clock_timestamp() - COALESCE(
                     (SELECT min(r.reported_at) FROM coord.shard_source_reports r
                      WHERE r.migration_id = m.id AND r.version > COALESCE(wt.applied, -1)),
                     m.started_at))::float8)
       END AS lag_seconds
FROM coord.shard_migration_state m
JOIN coord.shard_state s ON s.shard = m.shard
LEFT JOIN coord.shard_watermark ws ON ws.shard = m.shard AND ws.node = m.source
LEFT JOIN coord.shard_watermark wt ON wt.shard = m.shard AND wt.node = m.target;
COMMENT ON VIEW coord.migrations IS
    'Every shard migration with its phase, the shard''s current epoch, the source''s and target''s '
    'applied versions and the lag: lag_versions = source - target (at least 0); lag_seconds = 0 '
    'when caught up, else seconds since the source first reported the oldest version the target '
    'has not applied (server clock). Lag is NULL once the migration is complete or rolled back.';

GRANT EXECUTE ON FUNCTION coord.route(text, bigint), coord.check_route(text, bigint),
    coord.report_applied(text, text, bigint) TO coord_user;
GRANT EXECUTE ON FUNCTION coord.shard_add(text, text), coord.migration_start(text, text),
    coord.migration_advance(bigint, text), coord.migration_rollback(bigint) TO coord_admin;
GRANT SELECT ON coord.migrations, coord.shards, coord.shard_watermarks TO coord_user;
-- Leader election on leases. The leader of election E holds the lease
-- 'election:' || E (coord.lease_state); its term is that lease's fencing
-- token, so coord.check_fence('election:' || E, term) fences a leader's
-- writes. This part keeps, per election, the latest term a campaign started
-- and what its leader proclaims, and announces every change with
-- NOTIFY coord_leader.

CREATE TABLE coord.election_state (
    election    text PRIMARY KEY,
    term        bigint NOT NULL,       -- the latest term a campaign started (a lease token)
    leader      text NOT NULL,         -- the candidate that campaigned for it
    leader_role regrole NOT NULL,      -- the role that campaigned for it: owns the term
    value       jsonb,                 -- what the leader proclaims (coord.campaign's value)
    elected_at  timestamptz NOT NULL,
    ended       text,                  -- NULL until the term's end is announced: resigned | expired
    ended_at    timestamptz
);
COMMENT ON TABLE coord.election_state IS
    'One row per election: the latest term a campaign started, its candidate and role, the value it '
    'proclaims, and whether its end (resignation, expiry) was announced. Whether the term is live is '
    'the lease ''election:'' || election in coord.lease_state. Written only through the coord.* '
    'functions and the sweep.';
SELECT pg_catalog.pg_extension_config_dump('coord.election_state', '');

-- Invoker rights: the calling role owns the term it campaigns for, as it owns
-- any lease holding (lease_state.holder_role); the functions run their SQL as
-- the extension's owner with search_path pinned (Spi::run, OwnerSql in
-- src/pg/common/run_as_owner.hpp). EXECUTE is granted to coord_user only.
CREATE FUNCTION coord.campaign(election text, candidate text, ttl interval DEFAULT '3 seconds',
                               value jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_campaign'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.campaign(text, text, interval, jsonb) IS
    'Campaign for leadership of `election` as `candidate` and, when leading, stay leader until now + '
    'ttl: returns the term (a fencing token of lease ''election:'' || election) when candidate is (now, '
    'or still) the leader, NULL while another candidate leads. Call it every ttl/3 from every '
    'candidate: it is heartbeat and campaign in one. `value` is what the leader proclaims (its '
    'address, say): a new term starts with it, a leader''s call with another non-NULL value replaces '
    'it, NULL keeps it. A new term and a new value are announced with NOTIFY coord_leader. The term '
    'belongs to the calling role: another role''s campaign for it gets 42501.';

CREATE FUNCTION coord.leader(election text)
RETURNS TABLE(leader text, term bigint, value jsonb, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_leader'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.leader(text) IS
    'The current leader of `election`: candidate, term, proclaimed value and until when it leads '
    'unless it campaigns again. No row while nobody leads (never elected, resigned or expired).';

CREATE FUNCTION coord.leader_wait(election text, known_term bigint DEFAULT NULL,
                                  wait_for interval DEFAULT '30 seconds')
RETURNS TABLE(leader text, term bigint, value jsonb, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_leader_wait'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.leader_wait(text, bigint, interval) IS
    'Like coord.leader, but waits while the current term equals known_term (NULL: while nobody '
    'leads) until it changes or wait_for runs out, then answers as coord.leader does. Woken by the '
    'commit of a new term or a resignation, and at the leader''s expiry; not polled. For clients '
    'that cannot LISTEN. Waiting (wait_for > 0) needs shared_preload_libraries = pg_coord and READ '
    'COMMITTED (55000 otherwise).';

CREATE FUNCTION coord.resign(election text, term bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_resign'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.resign(text, bigint) IS
    'Step down at once: true when `term` was the live term of `election` and has ended (a follower''s '
    'next campaign takes over without waiting for the ttl; NOTIFY coord_leader announces it), false '
    'when it was not the live term. Another role''s live term gets 42501.';

CREATE VIEW coord.elections AS
SELECT e.election,
       e.leader,
       e.term,
       e.value,
       e.elected_at,
       CASE WHEN live.live THEN l.expires_at END AS expires_at,
       CASE WHEN live.live THEN 'leading' ELSE COALESCE(e.ended, 'expired') END AS state,
       e.ended_at
FROM coord.election_state e
LEFT JOIN coord.lease_state l ON l.name = 'election:' || e.election
CROSS JOIN LATERAL (SELECT l.token = e.term AND l.owner IS NOT NULL
                           AND l.expires_at > pg_catalog.clock_timestamp() AS live) live;
COMMENT ON VIEW coord.elections IS
    'Every election''s latest term: its candidate (leader), term, proclaimed value, since when, and '
    'its state: leading (with expires_at), resigned, or expired (also when the sweep has not yet '
    'announced the expiry).';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.election_state FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.campaign(text, text, interval, jsonb), coord.leader(text),
    coord.leader_wait(text, bigint, interval), coord.resign(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.campaign(text, text, interval, jsonb), coord.leader(text),
    coord.leader_wait(text, bigint, interval), coord.resign(text, bigint) TO coord_user;
GRANT SELECT ON coord.elections TO coord_user;
-- Compare-and-swap registers: a small JSON value per key, with a version
-- that counts its swaps.

CREATE TABLE coord.register_state (
    key        text COLLATE "C" PRIMARY KEY,  -- compared byte-wise: cheaper in every look-up
    value      jsonb NOT NULL,
    version    bigint NOT NULL,        -- 1 after the first write, +1 per swap
    owner_role regrole NOT NULL,       -- the role that first wrote it: only it (or coord_admin) uses the key
    updated_at timestamptz NOT NULL
) WITH (fillfactor = 70);  -- room for HOT updates: every swap rewrites the row
COMMENT ON TABLE coord.register_state IS
    'One row per register key ever written: its value, its version (the number of swaps, 1 after the '
    'first), the role that first wrote it and when it was last swapped. Written only through '
    'coord.register_cas.';
SELECT pg_catalog.pg_extension_config_dump('coord.register_state', '');

-- Invoker rights: the functions take the calling role, and run their SQL as
-- the extension's owner with search_path pinned. EXECUTE to coord_user only.
CREATE FUNCTION coord.register_get(key text)
RETURNS TABLE(value jsonb, version bigint)
AS 'MODULE_PATHNAME', 'coord_register_get'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.register_get(text) IS
    'The value and version of register `key`: version 0 and a NULL value for a key never written. '
    'A key belongs to the role that first wrote it: another role gets 42501 (coord_admin may read '
    'every key).';

CREATE FUNCTION coord.register_cas(key text, expected_version bigint, new_value jsonb)
RETURNS TABLE(swapped boolean, value jsonb, version bigint)
AS 'MODULE_PATHNAME', 'coord_register_cas'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.register_cas(text, bigint, jsonb) IS
    'Set register `key` to new_value only if its version is expected_version (0: never written), '
    'which makes it expected_version + 1. Always returns the current value and version: a loser '
    'retries with them at once, without another read. It waits only for a concurrent swap of the '
    'same version, and only until that transaction ends. new_value: non-NULL jsonb of at most 8192 '
    'bytes (22023). Another role''s key gets 42501.';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.register_state FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.register_get(text), coord.register_cas(text, bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.register_get(text), coord.register_cas(text, bigint, jsonb)
    TO coord_user;
-- Auctions on the compare-and-swap mechanism: each auction is one row whose
-- count of accepted bids is its version. A bid that can lead replaces the
-- high bid only if the count is still the one it read; a bid that cannot
-- lead writes nothing and waits for nobody.

CREATE TABLE coord.auction_state (
    auction          text COLLATE "C" PRIMARY KEY,
    opened_by        regrole NOT NULL,     -- may close it before closes_at
    opened_at        timestamptz NOT NULL,
    closes_at        timestamptz NOT NULL,
    reserve          numeric NOT NULL,     -- a bid must be above it
    high_bidder      text,                 -- NULL until a bid is accepted
    high_amount      numeric,
    high_bidder_role regrole,
    high_bid_at      timestamptz,
    bids             bigint NOT NULL,      -- accepted bids; the row's version
    closed_at        timestamptz           -- set by coord.auction_close
) WITH (fillfactor = 70);  -- room for HOT updates: every accepted bid rewrites the row
COMMENT ON TABLE coord.auction_state IS
    'One row per auction: who opened it, until when it takes bids, its reserve, the high bid (bidder, '
    'amount, role, when), the number of accepted bids and when it was closed. Written only through '
    'coord.auction_open, coord.bid and coord.auction_close.';
SELECT pg_catalog.pg_extension_config_dump('coord.auction_state', '');

-- Invoker rights, SQL run as the extension's owner with search_path pinned.
CREATE FUNCTION coord.auction_open(auction text, closes_at timestamptz, reserve numeric DEFAULT 0)
RETURNS void
AS 'MODULE_PATHNAME', 'coord_auction_open'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.auction_open(text, timestamptz, numeric) IS
    'Open auction `auction`, taking bids until closes_at (server clock, in the future) above '
    '`reserve`. The same call again by the same role changes nothing; another auction of that name '
    'is 42710. The calling role may close it early.';

CREATE FUNCTION coord.bid(auction text, bidder text, amount numeric)
RETURNS TABLE("leading" boolean, high_bidder text, high_amount numeric)
AS 'MODULE_PATHNAME', 'coord_bid'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.bid(text, text, numeric) IS
    'Bid `amount` for `bidder`. Accepted (leading = true) only above the current high bid and the '
    'reserve, before closes_at; of equal bids the one that commits first leads. Always returns the '
    'high bid after the call, so a bidder that did not lead can bid again at once. After the close: '
    'PC003. Amounts: 0 or more, below 10^12, at most 6 decimal places (22023), never rounded.';

CREATE FUNCTION coord.auction_close(auction text)
RETURNS TABLE(winner text, amount numeric, bids bigint)
AS 'MODULE_PATHNAME', 'coord_auction_close'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.auction_close(text) IS
    'Close the auction and return its winner, the winning amount and the number of accepted bids '
    '(NULL winner when no bid was accepted). Idempotent: later calls return the same. Anyone may '
    'close it after closes_at; before, only the opening role (or coord_admin): 42501.';

CREATE VIEW coord.auctions AS
SELECT auction,
       opened_by,
       opened_at,
       closes_at,
       reserve,
       high_bidder,
       high_amount,
       high_bid_at,
       bids,
       CASE WHEN closed_at IS NOT NULL OR closes_at <= pg_catalog.clock_timestamp()
            THEN 'closed' ELSE 'open' END AS state,
       COALESCE(closed_at, CASE WHEN closes_at <= pg_catalog.clock_timestamp()
                                           THEN closes_at END) AS closed_at
FROM coord.auction_state;
COMMENT ON VIEW coord.auctions IS
    'Every auction: who opened it, until when it takes bids, its reserve, the high bid so far (the '
    'winner once closed), the number of accepted bids, and whether it is open or closed.';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.auction_state FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.auction_open(text, timestamptz, numeric),
    coord.bid(text, text, numeric), coord.auction_close(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.auction_open(text, timestamptz, numeric),
    coord.bid(text, text, numeric), coord.auction_close(text) TO coord_user;
GRANT SELECT ON coord.auctions TO coord_user;
-- Nothing in coord is PUBLIC: coord_user and coord_admin get what each part grants.
REVOKE ALL ON ALL TABLES IN SCHEMA coord FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA coord FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA coord FROM PUBLIC;
