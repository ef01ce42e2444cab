-- pg_coord: ledger_post fenced by the lease bench-ledger (its token is
-- :fence_token, held by the benchmark for its whole run); half the keys were
-- posted before.
\set dup random(0, 1)
\if :dup
\set k random(1, 100000)
\else
\set k random(100001, 1000000000000)
\endif
SELECT * FROM coord.ledger_post('bench', 'acct-' || :k::bigint, 10.00, fence_name => 'bench-ledger', fence_token => :fence_token);
