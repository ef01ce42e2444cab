-- A fenced write: check_fence with this client's durable lease and the INSERT
-- it protects, one statement, one transaction. The run passes the first
-- client's token as tok0; client i holds dfence:i with token tok0 + i.
\set n random(1, 1000000000)
INSERT INTO bench_writes SELECT :client_id, :n FROM coord.check_fence('dfence:' || :client_id, :tok0::bigint + :client_id);
