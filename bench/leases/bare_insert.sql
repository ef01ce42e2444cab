-- The write without a fence: the baseline of the fenced writes.
\set n random(1, 1000000000)
INSERT INTO bench_writes VALUES (:client_id, :n);
