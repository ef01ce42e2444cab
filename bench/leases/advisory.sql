-- Session advisory locks: not durable, no owner, no token; the floor.
\set n random(1, 1000)
SELECT pg_advisory_lock(:n);
SELECT pg_advisory_unlock(:n);
