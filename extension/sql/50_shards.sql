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
