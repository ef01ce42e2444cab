-- What a user writes by hand: INSERT ... ON CONFLICT DO NOTHING on an
-- equivalent table (same columns, constraints and indexes), same keys.
\set dup random(0, 1)
\if :dup
\set k random(1, 100000)
\else
\set k random(100001, 1000000000000)
\endif
INSERT INTO bench_ledger (idempotency_key, cycle_id, account, amount, currency)
VALUES (concat_ws(':', '5', 'bench', 'acct-' || :k::bigint), 'bench', 'acct-' || :k::bigint, 10.00, 'USD')
ON CONFLICT (idempotency_key) DO NOTHING;
