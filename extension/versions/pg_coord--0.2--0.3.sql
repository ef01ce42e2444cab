-- pg_coord 0.2 -> 0.3. Each issue's changes are in a section of their own;
-- edit only your issue's section (and keep the blank lines between them).

-- issue 11: waiting redesigned (deadlock detection over every holding)
-- (end of issue 11)


-- issue 12: task queue surface (queues, grants, wake-ups, batches, metrics)
-- (end of issue 12)


-- issue 14: high availability, faults, bad input, privileges
-- A task_dead alert no longer carries the task's last error (every coord_user
-- reads coord.alerts; the error is for the roles that may read the task):
-- open alerts raised by 0.2 lose it too. Data only; a fresh install has none.
UPDATE coord.alerts SET detail = detail - 'last_error' WHERE kind = 'task_dead' AND detail ? 'last_error';
-- (end of issue 14)


-- issue 15: collaborative update logs and whiteboard shape maps
-- (end of issue 15)


-- issue 16: memory leases
-- (end of issue 16)
