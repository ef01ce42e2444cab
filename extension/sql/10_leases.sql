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

GRANT EXECUTE ON FUNCTION coord.acquire(text, text, interval, interval, boolean),
    coord.memory_lease_holdings(), coord.renew(text, bigint, interval),
    coord.release(text, bigint), coord.check_fence(text, bigint) TO coord_user;
GRANT EXECUTE ON FUNCTION coord.force_release(text) TO coord_admin;
GRANT SELECT ON coord.leases TO coord_user;

-- release_all (issue 12): what a deadlock victim does, in one call.
CREATE FUNCTION coord.release_all(owner text)
RETURNS integer
AS 'MODULE_PATHNAME', 'coord_release_all'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.release_all(text) IS
    'Release every lease `owner` holds now under the calling role (durable and memory holdings; '
    'each as coord.release: a waiter is handed the lease or woken). Returns how many. Holdings of '
    'the same owner string taken by another role are left alone (also for coord_admin: use '
    'coord.force_release). The call for a deadlock victim (40P01) before it retries its job.';
REVOKE EXECUTE ON FUNCTION coord.release_all(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.release_all(text) TO coord_user;
