-- The end of the fencing token counter: a grant and a claim that would need
-- a token past it raise 54000 (program_limit_exceeded) and change nothing.
-- Afterwards the counter is put back where it was, so no value is handed
-- out twice.
SELECT last_value AS counter_before FROM coord.token_allocator \gset
SELECT coord.queue_create('limits:q') AS created;
SELECT coord.enqueue('limits:q', '{}') AS task \gset
SELECT setval('coord.token_allocator', 140737488355327) AS counter_at_its_end;

SELECT regress.error_of($$SELECT coord.acquire('limits:lease', 'a')$$) AS acquire;
SELECT count(*) AS lease_rows FROM coord.lease_state WHERE name = 'limits:lease';
SELECT regress.error_of($$SELECT count(*) FROM coord.claim('limits:q', 'w')$$) AS claim;
SELECT state, attempts, token FROM coord.tasks WHERE id = :task;

SELECT setval('coord.token_allocator', :counter_before) = :counter_before AS counter_restored;
SELECT coord.acquire('limits:lease', 'a') > 0 AS acquired_after;
SELECT count(*) AS claimed_after FROM coord.claim('limits:q', 'w');
