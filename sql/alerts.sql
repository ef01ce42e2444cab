-- coord.alerts and coord.sweep(): one open alert per (kind, subject), raised
-- and resolved by sync_alerts; a failing sweep step rolls back alone.
CREATE FUNCTION regress.selftest_sync_alerts(kind text, firing jsonb) RETURNS jsonb
AS 'pg_coord', 'coord_selftest_sync_alerts' LANGUAGE C;
CREATE FUNCTION regress.selftest_fail_next_sweep_step(mode text) RETURNS void
AS 'pg_coord', 'coord_selftest_fail_next_sweep_step' LANGUAGE C;

-- The table: structure, and that coord_user may read but not write it.
SELECT column_name, data_type, is_nullable FROM information_schema.columns
WHERE table_schema = 'coord' AND table_name = 'alerts' ORDER BY ordinal_position;
SELECT has_table_privilege('coord_user', 'coord.alerts', 'SELECT') AS user_select,
       has_table_privilege('coord_user', 'coord.alerts', 'INSERT') AS user_insert,
       has_table_privilege('coord_user', 'coord.alerts', 'UPDATE') AS user_update,
       has_table_privilege('public', 'coord.alerts', 'SELECT') AS public_select,
       has_function_privilege('coord_user', 'coord.sweep()', 'EXECUTE') AS user_sweep;

-- Raising: one row per new subject, the detail kept.
SELECT regress.selftest_sync_alerts('demo', '{"a": {"n": 1}, "b": {"n": 2}}');
SELECT kind, subject, detail, resolved_at IS NULL AS open FROM coord.alerts ORDER BY id;
-- Still firing: nothing new, however often the sweep runs (no flood).
SELECT regress.selftest_sync_alerts('demo', '{"a": {"n": 10}, "b": {"n": 20}}');
SELECT regress.selftest_sync_alerts('demo', '{"b": {}, "a": {}}');
SELECT count(*) AS rows, count(*) FILTER (WHERE resolved_at IS NULL) AS open FROM coord.alerts;
-- Another kind with the same subject is a different alert.
SELECT regress.selftest_sync_alerts('other', '{"a": {}}');
-- "a" stops firing: resolved; "c" starts: raised.
SELECT regress.selftest_sync_alerts('demo', '{"b": {}, "c": {"n": 3}}');
SELECT kind, subject, detail, resolved_at IS NULL AS open, resolved_at >= raised_at AS ordered
FROM coord.alerts ORDER BY id;
-- "a" fires again later: a new alert, the old one stays resolved in history.
SELECT regress.selftest_sync_alerts('demo', '{"a": {}, "b": {}, "c": {}}');
SELECT kind, subject, resolved_at IS NULL AS open FROM coord.alerts ORDER BY id;
-- Nothing firing resolves every open alert of that kind only.
SELECT regress.selftest_sync_alerts('demo', '{}');
SELECT kind, subject, resolved_at IS NULL AS open FROM coord.alerts ORDER BY id;

-- The database enforces one open alert per (kind, subject), also for a
-- direct INSERT that bypasses sync_alerts.
SELECT regress.error_of($$INSERT INTO coord.alerts (kind, subject) VALUES ('other', 'a')$$);
-- Bad kind or subject: 22023, nothing written.
SELECT regress.error_of($$SELECT regress.selftest_sync_alerts('', '{"x": {}}')$$);
SELECT regress.error_of($$SELECT regress.selftest_sync_alerts('demo', '{"": {}}')$$);
SELECT regress.error_of(format($$SELECT regress.selftest_sync_alerts('demo', '{"%s": {}}')$$,
                               repeat('s', 513)));
SELECT regress.error_of(format($$SELECT regress.selftest_sync_alerts(%L, '{"x": {}}')$$,
                               repeat('k', 65)));
SELECT count(*) AS rows FROM coord.alerts;

-- (NOTIFY coord_alerts payloads name the backend PID in psql's output;
-- tests/scenarios/dead_letter receives and checks them with a listener.)

-- coord.sweep(): counts as JSON; a failing step is rolled back and reported,
-- the transaction and the other steps go on.
SELECT regress.selftest_fail_next_sweep_step('throw');
WITH s AS (SELECT coord.sweep() AS r)
SELECT r -> 'failed_steps' AS failed_steps, r ? 'selftest_rows_written' AS failed_step_counted FROM s;
SELECT regress.selftest_fail_next_sweep_step('raise');
SELECT coord.sweep() -> 'failed_steps' AS failed_steps;
SELECT count(*) AS selftest_alerts FROM coord.alerts WHERE kind = 'selftest';
-- With nothing armed, the selftest step does nothing and nothing fails.
SELECT coord.sweep() ? 'failed_steps' AS has_failed_steps;
-- A sweep inside a transaction that rolls back leaves nothing behind.
BEGIN;
SELECT regress.selftest_fail_next_sweep_step('succeed');
SELECT coord.sweep() -> 'selftest_rows_written' AS written;
SELECT count(*) AS selftest_alerts_inside FROM coord.alerts WHERE kind = 'selftest';
ROLLBACK;
SELECT count(*) AS selftest_alerts FROM coord.alerts WHERE kind = 'selftest';

DELETE FROM coord.alerts;
