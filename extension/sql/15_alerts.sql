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
    'with a JSON payload of event, id, kind, raised_at and resolved_at only (any role that can '
    'connect can LISTEN: subject and detail are read here) and written to the server log.';
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
