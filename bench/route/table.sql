-- Baseline: the same answer read from a plain table.
\set s random(1, 100)
SELECT epoch, phase, write_nodes, read_node FROM bench_routes WHERE shard = 'shard-' || :s;
