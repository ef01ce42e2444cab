-- Metrics (issue 12): counters and per-queue gauges kept in shared memory
-- (src/pg/metrics), so that coord.metrics() and coord.queue_stats answer
-- without counting the task tables; pg_monitor reads them without any coord
-- privilege.
CREATE FUNCTION coord.metrics()
RETURNS TABLE (metric text, labels jsonb, value double precision)
AS 'MODULE_PATHNAME', 'coord_metrics'
LANGUAGE C VOLATILE ROWS 50;
COMMENT ON FUNCTION coord.metrics() IS
    'Prometheus-style metrics of this server: counters that only go up while it runs '
    '(coord_tasks_{enqueued,completed,failed,dead,cancelled}_total per queue, '
    'coord_lease_acquisitions_total, coord_lease_takeovers_total, coord_fence_rejections_total, '
    'coord_deadlocks_total, coord_sweeps_total, coord_sweeps_failed_total; counted when their '
    'transaction commits) and gauges (coord_tasks_pending, coord_tasks_due, '
    'coord_tasks_processing, coord_tasks_retained{state} per queue, once coord_gauges_valid is 1; '
    'coord_last_sweep_timestamp_seconds, coord_last_sweep_duration_seconds, coord_lease_waiters). '
    'Read from shared memory (55000 without pg_coord in shared_preload_libraries).';

CREATE FUNCTION coord.queue_stats_rows()
RETURNS TABLE (queue text, pending bigint, due bigint, processing bigint, complete bigint,
               dead bigint, oldest_due_age interval, stuck_processing bigint)
AS 'MODULE_PATHNAME', 'coord_queue_stats_rows'
LANGUAGE C VOLATILE ROWS 10;
COMMENT ON FUNCTION coord.queue_stats_rows() IS
    'The rows of coord.queue_stats: from the shared-memory gauges once the background worker '
    'counted the tables after the server started, else counted from the tables.';

CREATE OR REPLACE VIEW coord.queue_stats AS SELECT * FROM coord.queue_stats_rows();
COMMENT ON VIEW coord.queue_stats IS
    'Per queue: pending tasks, due ones (pending and run_at reached, as of the last sweep for '
    'tasks scheduled ahead), processing, complete (kept for the queue''s retention), dead, the age '
    'of the oldest due task, and processing tasks claimed longer ago than '
    'coord.task_stuck_alert_after. From shared memory (no count of the tables) once the '
    'background worker counted them after the server started.';

CREATE OR REPLACE VIEW coord.queues AS
SELECT q.queue, q.max_attempts, q.retention, q.backoff_max, q.notify, q.paused, q.created_by,
       q.created_at, COALESCE(s.pending, 0) AS pending, COALESCE(s.processing, 0) AS processing,
       COALESCE(s.dead, 0) AS dead, COALESCE(s.complete, 0) AS complete
FROM coord.queue_state q LEFT JOIN coord.queue_stats_rows() s ON s.queue = q.queue;

REVOKE EXECUTE ON FUNCTION coord.metrics(), coord.queue_stats_rows() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.metrics(), coord.queue_stats_rows() TO coord_user, pg_monitor;
