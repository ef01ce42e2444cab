-- Baseline: the same answer (for version 500) read from a plain table.
\set s random(1, 100)
SELECT epoch, phase, write_nodes, read_node FROM bench_routes_min WHERE shard = 'shard-' || :s;
