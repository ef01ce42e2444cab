-- pg_coord: route a client that has seen version 500 (version-aware read).
\set s random(1, 100)
SELECT * FROM coord.route('shard-' || :s, 500);
