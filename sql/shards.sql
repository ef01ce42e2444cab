-- Shard migrations: every function, every phase, every error path.

-- The whole shard state without times, to show that a refused call changed nothing.
CREATE FUNCTION regress.shard_snapshot() RETURNS text LANGUAGE sql AS $$
SELECT concat_ws(' / ',
    (SELECT string_agg(format('%s@%s e%s m%s', shard, node, epoch, migration_id), ', ' ORDER BY shard)
     FROM coord.shard_state),
    (SELECT string_agg(format('m%s %s %s->%s %s', id, shard, source, target, phase), ', ' ORDER BY id)
     FROM coord.shard_migration_state),
    (SELECT string_agg(format('%s e%s %s %s', shard, epoch, phase, write_nodes), ', ' ORDER BY shard, epoch)
     FROM coord.shard_epoch_history),
    (SELECT string_agg(format('%s:%s=%s', shard, node, applied), ', ' ORDER BY shard, node)
     FROM coord.shard_watermark),
    (SELECT 'reports ' || count(*) FROM coord.shard_source_reports))
$$;

-- shard_add: epoch 1, stable, on its node. A retry for the same node is answered.
SELECT coord.shard_add('shard-5', 'old') AS epoch;
SELECT coord.shard_add(shard => 'shard-5', node => 'old') AS retry_epoch;
SELECT coord.shard_add('shard-6', 'n6') AS epoch;
SELECT * FROM coord.route('shard-5');
SELECT shard, node, epoch, phase, write_nodes, read_node, migration_id FROM coord.shards ORDER BY shard;
SELECT regress.shard_snapshot() AS before \gset
-- Refused: another node, NULLs, empty and too long names.
SELECT regress.error_of($$SELECT coord.shard_add('shard-5', 'other')$$);
SELECT regress.error_of($$SELECT coord.shard_add(NULL, 'n')$$);
SELECT regress.error_of($$SELECT coord.shard_add('s', NULL)$$);
SELECT regress.error_of($$SELECT coord.shard_add('', 'n')$$);
SELECT regress.error_of($$SELECT coord.shard_add('s', '')$$);
SELECT regress.error_of(format('SELECT coord.shard_add(%L, %L)', repeat('x', 257), 'n'));
SELECT regress.shard_snapshot() = :'before' AS nothing_changed;

-- report_applied: watermarks only move forward.
SELECT coord.report_applied('shard-5', 'old', 40);
SELECT coord.report_applied('shard-5', 'old', 35);  -- lower: ignored
SELECT coord.report_applied('shard-5', 'old', 40);  -- equal: only the report time moves
SELECT shard, node, applied, reported_at > applied_at AS reported_after_applied
FROM coord.shard_watermarks ORDER BY shard, node;
SELECT regress.shard_snapshot() AS before \gset
SELECT regress.error_of($$SELECT coord.report_applied('shard-5', 'old', -1)$$);
SELECT regress.error_of($$SELECT coord.report_applied('shard-5', 'old', NULL)$$);
SELECT regress.error_of($$SELECT coord.report_applied('shard-5', NULL, 1)$$);
SELECT regress.error_of($$SELECT coord.report_applied(NULL, 'old', 1)$$);
SELECT regress.error_of($$SELECT coord.report_applied('no-such-shard', 'old', 1)$$);
SELECT regress.error_of($$SELECT coord.report_applied('shard-5', 'new', 1)$$);  -- not a placement yet
SELECT regress.shard_snapshot() = :'before' AS nothing_changed;

-- migration_start: phase copying, epoch bumped, writes and reads stay on the source.
SELECT coord.migration_start('shard-5', 'new') AS migration_id;
SELECT * FROM coord.route('shard-5');
SELECT id, shard, source, target, phase, epoch, source_version, target_version, lag_versions,
       lag_seconds > 0 AS lagging, started_at = phase_changed_at AS same_times
FROM coord.migrations;
SELECT regress.shard_snapshot() AS before \gset
-- One active migration per shard; bad targets; unknown shard; NULLs.
SELECT regress.error_of($$SELECT coord.migration_start('shard-5', 'third')$$);
SELECT regress.error_of($$SELECT coord.migration_start('shard-6', 'n6')$$);
SELECT regress.error_of($$SELECT coord.migration_start('no-such-shard', 'new')$$);
SELECT regress.error_of($$SELECT coord.migration_start(NULL, 'new')$$);
SELECT regress.error_of($$SELECT coord.migration_start('shard-6', NULL)$$);
SELECT regress.error_of($$SELECT coord.migration_start('shard-6', '')$$);
SELECT regress.shard_snapshot() = :'before' AS nothing_changed;

-- copying: the target reports; a read needing version 42 has no node yet
-- (read_node NULL), needing 40 goes to the source.
SELECT coord.report_applied('shard-5', 'new', 30);
SELECT * FROM coord.route('shard-5', min_version => 40);
SELECT * FROM coord.route('shard-5', min_version => 42);
SELECT * FROM coord.route('shard-5', min_version => 0);
SELECT regress.error_of($$SELECT * FROM coord.route('shard-5', -1)$$);
SELECT regress.error_of($$SELECT * FROM coord.route('no-such-shard')$$);
SELECT regress.error_of($$SELECT * FROM coord.route(NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.route('')$$);
-- Lag: 10 versions behind. lag_seconds counts from when the source first
-- reported the oldest version the target lacks: for the source's watermark
-- at the start (40), from the start (here moved 30 s back).
SELECT version, reported_at = started_at AS at_start
FROM coord.shard_source_reports JOIN coord.migrations ON id = migration_id ORDER BY version;
UPDATE coord.shard_source_reports SET reported_at = reported_at - interval '30 seconds';
SELECT source_version, target_version, lag_versions, lag_seconds BETWEEN 30 AND 120 AS lag_about_30s
FROM coord.migrations;

-- Every step that is not the next one is PC003 naming the phase and the allowed next ones.
SELECT regress.shard_snapshot() AS before \gset
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'copying')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'cutover')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'complete')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'rolled_back')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'bogus')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, NULL)$$);
SELECT regress.error_of($$SELECT coord.migration_advance(NULL, 'dual_write')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(99, 'dual_write')$$);
SELECT regress.error_of($$SELECT coord.migration_rollback(99)$$);
SELECT regress.error_of($$SELECT coord.migration_rollback(NULL)$$);
SELECT regress.shard_snapshot() = :'before' AS nothing_changed;

-- check_route in copying: epoch 1 (stable) wrote to {old} like epoch 2: still fine.
SELECT coord.check_route('shard-5', 1);
SELECT coord.check_route('shard-5', 2);

-- dual_write: writes go to both; reads stay on the source unless the client
-- has seen more than the source reported.
SELECT coord.migration_advance(1, 'dual_write') AS epoch;
SELECT * FROM coord.route('shard-5');
SELECT coord.report_applied('shard-5', 'new', 42);
-- Target caught up: the source history it has applied is gone, lag is 0.
SELECT source_version, target_version, lag_versions, lag_seconds FROM coord.migrations;
SELECT count(*) AS source_reports_left FROM coord.shard_source_reports;
-- The client read version 42 from the target: never routed to the source at 40.
SELECT * FROM coord.route('shard-5', 42);
SELECT * FROM coord.route('shard-5', 40);
SELECT * FROM coord.route('shard-5', 43);
-- An epoch before dual_write wrote only to {old}: stale. A future epoch does not exist.
SELECT regress.error_of($$SELECT coord.check_route('shard-5', 1)$$);
SELECT regress.error_of($$SELECT coord.check_route('shard-5', 2)$$);
SELECT coord.check_route('shard-5', 3);
SELECT regress.error_of($$SELECT coord.check_route('shard-5', 4)$$);
SELECT regress.error_of($$SELECT coord.check_route('shard-5', 0)$$);
SELECT regress.error_of($$SELECT coord.check_route('shard-5', NULL)$$);
SELECT regress.error_of($$SELECT coord.check_route(NULL, 3)$$);
SELECT regress.error_of($$SELECT coord.check_route('no-such-shard', 1)$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'dual_write')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'complete')$$);
-- The source moves on (41, 44, 46): 41 the target already has, so only 44
-- and 46 are remembered. The target's report of 44 drops what it applied;
-- lag then counts from the source's first report of a version the target lacks (46).
SELECT coord.report_applied('shard-5', 'old', 41);
SELECT coord.report_applied('shard-5', 'old', 44);
SELECT coord.report_applied('shard-5', 'old', 46);
SELECT version FROM coord.shard_source_reports ORDER BY version;
SELECT coord.report_applied('shard-5', 'new', 44);
SELECT version FROM coord.shard_source_reports ORDER BY version;
UPDATE coord.shard_source_reports SET reported_at = reported_at - interval '5 seconds';
SELECT source_version, target_version, lag_versions, lag_seconds BETWEEN 5 AND 30 AS lag_about_5s
FROM coord.migrations;
SELECT coord.report_applied('shard-5', 'new', 46);
SELECT source_version, target_version, lag_versions, lag_seconds FROM coord.migrations;
SELECT count(*) AS source_reports_left FROM coord.shard_source_reports;

-- cutover: writes only to the target, which is also the preferred read;
-- the source still serves clients it has caught up with.
SELECT coord.migration_advance(1, 'cutover') AS epoch;
SELECT * FROM coord.route('shard-5');
SELECT * FROM coord.route('shard-5', 46);
SELECT * FROM coord.route('shard-5', 47);
SELECT regress.error_of($$SELECT coord.check_route('shard-5', 3)$$);
SELECT coord.check_route('shard-5', 4);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'dual_write')$$);

-- complete: the shard lives on the target; the migration is final.
SELECT coord.migration_advance(1, 'complete') AS epoch;
SELECT * FROM coord.route('shard-5');
SELECT * FROM coord.route('shard-5', 46);
SELECT coord.check_route('shard-5', 4);  -- cutover already wrote to {new} only
SELECT regress.error_of($$SELECT coord.check_route('shard-5', 3)$$);
SELECT id, phase, epoch, lag_versions, lag_seconds, phase_changed_at > started_at AS moved
FROM coord.migrations;
SELECT shard, node, epoch, phase, write_nodes, read_node, migration_id FROM coord.shards ORDER BY shard;
SELECT regress.shard_snapshot() AS before \gset
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'cutover')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'complete')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'rolled_back')$$);
SELECT regress.error_of($$SELECT coord.migration_rollback(1)$$);
SELECT regress.error_of($$SELECT coord.shard_add('shard-5', 'old')$$);
SELECT regress.error_of($$SELECT coord.migration_start('shard-5', 'new')$$);
SELECT regress.shard_snapshot() = :'before' AS nothing_changed;
SELECT coord.shard_add('shard-5', 'new') AS retry_on_new_home;

-- Rollback from each active phase: traffic back to the source, the target
-- stays a replica, epoch bumped; after it nothing but a new migration.
SELECT coord.migration_start('shard-6', 'n6b') AS migration_id;               -- 2: copying
SELECT coord.migration_rollback(2) AS epoch;
SELECT * FROM coord.route('shard-6');
SELECT coord.migration_start('shard-6', 'n6b') AS migration_id;               -- 3: dual_write
SELECT coord.migration_advance(3, 'dual_write') AS epoch;
SELECT coord.report_applied('shard-6', 'n6', 7);
SELECT coord.report_applied('shard-6', 'n6b', 9);
SELECT * FROM coord.route('shard-6', 9);
SELECT coord.migration_rollback(3) AS epoch;
SELECT * FROM coord.route('shard-6');
-- After the rollback a client that saw 9 (on the target) waits: the source is at 7.
SELECT * FROM coord.route('shard-6', 9);
-- The dual_write writer (epoch 5: {n6, n6b}) is stale now; the copying one (epoch 4: {n6}) is not.
SELECT regress.error_of($$SELECT coord.check_route('shard-6', 5)$$);
SELECT coord.check_route('shard-6', 4);
SELECT coord.migration_start('shard-6', 'n6b') AS migration_id;               -- 4: cutover
SELECT coord.migration_advance(4, 'dual_write'), coord.migration_advance(4, 'cutover');
-- In cutover the target is preferred; a client the target has not caught up
-- with is served by the source if it has (source 12, target 9).
SELECT coord.report_applied('shard-6', 'n6', 12);
SELECT * FROM coord.route('shard-6', 9);
SELECT * FROM coord.route('shard-6', 10);
SELECT * FROM coord.route('shard-6', 13);
SELECT coord.migration_rollback(4) AS epoch;
SELECT * FROM coord.route('shard-6');
SELECT regress.shard_snapshot() AS before \gset
SELECT regress.error_of($$SELECT coord.migration_rollback(4)$$);
SELECT regress.error_of($$SELECT coord.migration_advance(4, 'complete')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(2, 'dual_write')$$);
SELECT regress.shard_snapshot() = :'before' AS nothing_changed;
SELECT id, shard, source, target, phase, epoch, lag_versions, lag_seconds
FROM coord.migrations ORDER BY id;
SELECT shard, epoch, phase, migration_id, write_nodes, read_node
FROM coord.shard_epoch_history ORDER BY shard, epoch;

-- Privileges: coord_user routes, checks and reports; only coord_admin migrates.
CREATE ROLE regress_shard_user LOGIN IN ROLE coord_user;
CREATE ROLE regress_shard_admin LOGIN IN ROLE coord_admin;
SET ROLE regress_shard_user;
SELECT epoch, phase FROM coord.route('shard-5');
SELECT coord.check_route('shard-5', 5);
SELECT coord.report_applied('shard-5', 'new', 50);
SELECT count(*) AS migrations_visible FROM coord.migrations;
SELECT regress.error_of($$SELECT coord.migration_start('shard-5', 'x')$$);
SELECT regress.error_of($$SELECT coord.migration_advance(1, 'complete')$$);
SELECT regress.error_of($$SELECT coord.migration_rollback(1)$$);
SELECT regress.error_of($$SELECT coord.shard_add('s', 'n')$$);
SELECT regress.error_of($$UPDATE coord.shard_state SET epoch = 1$$);
SELECT regress.error_of($$DELETE FROM coord.shard_watermark$$);
RESET ROLE;
SET ROLE regress_shard_admin;
SELECT coord.shard_add('shard-7', 'n7') AS admin_can_add;
RESET ROLE;
DROP ROLE regress_shard_user, regress_shard_admin;

-- The migration_lag alert (sweep step): raised when lag_seconds exceeds
-- coord.migration_lag_alert_after, once per migration, resolved when it catches up.
SHOW coord.migration_lag_alert_after;
SELECT coord.shard_add('shard-8', 'a8') AS epoch;
SELECT coord.report_applied('shard-8', 'a8', 100);
SELECT coord.migration_start('shard-8', 'b8') AS migration_id;
SELECT coord.report_applied('shard-8', 'b8', 50);
-- Caught-up or young lag: nothing fires.
SELECT coord.sweep() -> 'migration_lag_firing' AS firing, coord.sweep() -> 'migration_lag_raised' AS raised;
-- The source's v100 was first reported 20 s ago: 20 s > 10 s.
UPDATE coord.shard_source_reports SET reported_at = reported_at - interval '20 seconds';
SELECT s -> 'migration_lag_firing' AS firing, s -> 'migration_lag_raised' AS raised,
       s -> 'migration_lag_resolved' AS resolved FROM coord.sweep() s;
SELECT kind, subject, detail - 'lag_seconds' AS detail, (detail ->> 'lag_seconds')::numeric >= 20 AS lag_20s,
       resolved_at IS NULL AS open
FROM coord.alerts WHERE kind = 'migration_lag' ORDER BY id;
-- Still lagging: no second alert.
SELECT s -> 'migration_lag_firing' AS firing, s -> 'migration_lag_raised' AS raised FROM coord.sweep() s;
SELECT count(*) AS migration_lag_alerts FROM coord.alerts WHERE kind = 'migration_lag';
-- A higher threshold resolves it; back at the default it is raised again.
SET coord.migration_lag_alert_after = '1min';
SELECT s -> 'migration_lag_firing' AS firing, s -> 'migration_lag_resolved' AS resolved FROM coord.sweep() s;
RESET coord.migration_lag_alert_after;
SELECT s -> 'migration_lag_raised' AS raised FROM coord.sweep() s;
-- The target catches up: resolved.
SELECT coord.report_applied('shard-8', 'b8', 100);
SELECT lag_versions, lag_seconds FROM coord.migrations WHERE id = 5;
SELECT s -> 'migration_lag_firing' AS firing, s -> 'migration_lag_resolved' AS resolved FROM coord.sweep() s;
SELECT subject, resolved_at IS NOT NULL AS resolved FROM coord.alerts WHERE kind = 'migration_lag' ORDER BY id;
-- Lagging again, then rolled back: a migration that is over has no lag and its alert resolves.
SELECT coord.report_applied('shard-8', 'a8', 120);
UPDATE coord.shard_source_reports SET reported_at = reported_at - interval '20 seconds';
SELECT s -> 'migration_lag_raised' AS raised FROM coord.sweep() s;
SELECT coord.migration_rollback(5) AS epoch;
SELECT s -> 'migration_lag_firing' AS firing, s -> 'migration_lag_resolved' AS resolved FROM coord.sweep() s;
SELECT count(*) FILTER (WHERE resolved_at IS NULL) AS open_alerts, count(*) AS all_alerts
FROM coord.alerts WHERE kind = 'migration_lag';
-- The GUC is for superusers (and the server configuration).
CREATE ROLE regress_shard_user2 LOGIN IN ROLE coord_user;
SET ROLE regress_shard_user2;
SELECT regress.error_of($$SET coord.migration_lag_alert_after = '1h'$$);
RESET ROLE;
DROP ROLE regress_shard_user2;
SELECT regress.error_of($$SET coord.migration_lag_alert_after = '-1s'$$);
