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

CREATE FUNCTION coord.wait_edges()
RETURNS TABLE (waiter text, name text, holder text, waiting_since timestamptz, edge text, kind text,
               waiter_pid integer, holder_pid integer)
AS 'MODULE_PATHNAME', 'coord_wait_edges'
LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION coord.wait_edges() IS
    'Every edge the deadlock detector of this database uses, computed now from shared memory and the '
    'lease rows. Use the view coord.wait_graph.';
REVOKE ALL ON FUNCTION coord.wait_edges() FROM PUBLIC;

CREATE VIEW coord.wait_graph AS
SELECT waiter, name, holder, waiting_since, edge, kind, waiter_pid, holder_pid
FROM coord.wait_edges();
COMMENT ON VIEW coord.wait_graph IS
    'Every edge the deadlock detector uses: the request of owner waiter (backend waiter_pid) waiting '
    'for lease name cannot be served before holder lets go. kind = committed: holder holds it '
    '(committed, live; any session acting as that owner may release it, holder_pid NULL); '
    'uncommitted: the open transaction of backend holder_pid is writing the name''s lease row (an '
    'uncommitted acquire, hand-off or release; holder is the owner that session acts as); queued: '
    'the request of holder_pid is queued ahead (FIFO serves it first). edge = held or queued, as in '
    'coord.deadlocks.cycle. A cycle is reported only when no member can make progress (README, '
    '"Deadlocks: the rule").';

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
    coord.waiting_requests(), coord.pending_deadlocks(), coord.wait_edges() TO coord_user;
GRANT EXECUTE ON FUNCTION coord.detect_deadlocks() TO coord_admin;
GRANT SELECT ON coord.waiters, coord.wait_graph, coord.deadlocks TO coord_user;
