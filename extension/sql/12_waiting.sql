-- Waiting for leases: FIFO queues in shared memory, acquire_all, the
-- wait-for graph among owners and the history of broken deadlocks.
-- (coord.acquire's wait_for parameter is in 10_leases.sql.)

CREATE FUNCTION coord.acquire_all(names text[], owner text, ttl interval DEFAULT '1 hour',
                                  wait_for interval DEFAULT '0', durable boolean DEFAULT true)
RETURNS TABLE (name text, token bigint)
AS 'MODULE_PATHNAME', 'coord_acquire_all'
LANGUAGE C VOLATILE;  -- invoker rights, as coord.acquire (10_leases.sql)
COMMENT ON FUNCTION coord.acquire_all(text[], text, interval, interval, boolean) IS
    'Take every lease in `names` for `owner`, all or nothing: one row (name, token) per distinct '
    'name in canonical (sorted) order, or no row when they could not all be taken (within wait_for); '
    '42501 when the owner already holds one of them under another role. '
    'It never holds part of the set while it waits, and takes the rows in one canonical order, so two '
    'acquire_all calls cannot deadlock each other. At most 100 names. '
    'durable => false takes memory holdings (as coord.acquire(..., durable => false)), all at once; '
    'a name held durably is busy then. A refused set may use up tokens (never handed out again).';

CREATE FUNCTION coord.waiting_requests()
RETURNS TABLE (name text, owner text, waiting_since timestamptz, "position" integer, pid integer,
               wait_until timestamptz)
AS 'MODULE_PATHNAME', 'coord_waiting_requests'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.waiting_requests() IS
    'Callers of this database asleep waiting for a lease, read from shared memory (one row per '
    'lease name a request waits for). Use the view coord.waiters.';

CREATE VIEW coord.waiters AS
SELECT name, owner, waiting_since, "position", pid, wait_until
FROM coord.waiting_requests();
COMMENT ON VIEW coord.waiters IS
    'Who waits for which lease: owner, since when, place in the FIFO queue of that name (1 = next '
    'to be served), the backend pid (for pg_cancel_backend) and when the wait runs out (wait_until).';

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

GRANT EXECUTE ON FUNCTION coord.acquire_all(text[], text, interval, interval, boolean),
    coord.waiting_requests(), coord.pending_deadlocks() TO coord_user;
GRANT EXECUTE ON FUNCTION coord.detect_deadlocks() TO coord_admin;
GRANT SELECT ON coord.waiters, coord.wait_graph, coord.deadlocks TO coord_user;
