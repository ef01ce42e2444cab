-- pg_coord: where to write and read one of 100 shards.
\set s random(1, 100)
SELECT * FROM coord.route('shard-' || :s);
