-- pg_coord 0.2 -> 0.3. Each issue's changes are in a section of their own;
-- edit only your issue's section (and keep the blank lines between them).

-- issue 11: waiting redesigned (deadlock detection over every holding)
-- coord.waiters shows every column of coord.waiting_requests() (wait_until
-- was dropped); CREATE OR REPLACE keeps its grants.
CREATE OR REPLACE VIEW coord.waiters AS
SELECT name, owner, waiting_since, "position", pid, wait_until
FROM coord.waiting_requests();
COMMENT ON VIEW coord.waiters IS
    'Who waits for which lease: owner, since when, place in the FIFO queue of that name (1 = next '
    'to be served), the backend pid (for pg_cancel_backend) and when the wait runs out (wait_until).';
-- (end of issue 11)


-- issue 12: task queue surface (queues, grants, wake-ups, batches, metrics)
-- (end of issue 12)


-- issue 14: high availability, faults, bad input, privileges
-- (end of issue 14)


-- issue 15: collaborative update logs and whiteboard shape maps
-- (end of issue 15)


-- issue 16: memory leases
-- (end of issue 16)
