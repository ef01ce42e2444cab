-- pg_coord 0.2 -> 0.3. Each issue's changes are in a section of their own;
-- edit only your issue's section (and keep the blank lines between them).

-- issue 11: waiting redesigned (deadlock detection over every holding)
-- (end of issue 11)


-- issue 12: task queue surface (queues, grants, wake-ups, batches, metrics)
-- (end of issue 12)


-- issue 14: high availability, faults, bad input, privileges
-- (end of issue 14)


-- issue 15: collaborative update logs and whiteboard shape maps
-- (end of issue 15)


-- issue 16: memory leases
-- coord.acquire gains `durable boolean DEFAULT true` (a new signature: dropped
-- and created again, with its comment and grant); coord.leases gains `durable`.
DROP FUNCTION coord.acquire(text, text, interval, interval);
CREATE FUNCTION coord.acquire(name text, owner text, ttl interval DEFAULT '1 hour',
                              wait_for interval DEFAULT '0', durable boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_acquire'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.acquire(text, text, interval, interval, boolean) IS
    'Take the lease `name` for `owner` until now + ttl. Returns the fencing token, or NULL while '
    'another owner holds an unexpired lease (or, with wait_for > 0, when the wait ran out). Called '
    'again by the holder (the same owner, called by the role that took the holding; 42501 for '
    'another role) it returns the same token and extends the expiry; a new holding always '
    'gets a larger token than any before it. With wait_for > 0 it queues and waits (FIFO, woken '
    'when the lease is released or expires; 40P01 when chosen as a deadlock victim); a newcomer '
    'never takes a lease others are queued for. Waiting needs shared_preload_libraries = pg_coord. '
    'durable => false takes a memory holding: kept in shared memory (no WAL, no transaction id), '
    'gone after a restart, crash or failover, its token still larger than every earlier one; at '
    'most coord.memory_leases at once (53400 beyond); needs shared_preload_libraries = pg_coord. '
    'A name held in the other kind is busy as any held name.';

CREATE FUNCTION coord.memory_lease_holdings()
RETURNS TABLE (name text, owner text, holder_role regrole, token bigint,
               acquired_at timestamptz, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_memory_lease_holdings'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.memory_lease_holdings() IS
    'The memory holdings (coord.acquire(..., durable => false)) of this database, live or expired, '
    'as coord.leases shows them: token NULL unless the holding is the caller''s role''s or the '
    'caller is coord_admin. No rows without shared_preload_libraries = pg_coord.';

-- CURRENT_USER and pg_has_role are the reader's, not the view owner's.
CREATE OR REPLACE VIEW coord.leases AS
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
       l.expires_at <= pg_catalog.clock_timestamp() AS expired,
       l.durable
FROM (SELECT s.name, s.owner, s.holder_role, s.token, s.acquired_at, s.expires_at, true AS durable
      FROM coord.lease_state s
      WHERE s.owner IS NOT NULL
      UNION ALL
      SELECT m.name, m.owner, m.holder_role, m.token, m.acquired_at, m.expires_at, false
      FROM coord.memory_lease_holdings() m) l,
     (SELECT (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)::pg_catalog.regrole AS role,
             pg_catalog.pg_has_role('coord_admin', 'USAGE') AS is_admin) reader;
COMMENT ON VIEW coord.leases IS
    'Leases with a holder: owner, the role that took the holding, fencing token (NULL unless the '
    'holding is the reader''s role''s, or the reader is coord_admin), when acquired and until when, '
    'how long held so far, whether the holding has expired (an expired lease is free for the '
    'next acquire), and whether it is durable (coord.lease_state) or a memory holding (false).';

REVOKE EXECUTE ON FUNCTION coord.acquire(text, text, interval, interval, boolean),
    coord.memory_lease_holdings() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.acquire(text, text, interval, interval, boolean),
    coord.memory_lease_holdings() TO coord_user;
-- (end of issue 16)
