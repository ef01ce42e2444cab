-- pg_coord memory lease: acquire + release one of 1000 names.
\set n random(1, 1000)
SELECT coalesce(coord.acquire('bench:' || :n, 'client-' || :client_id, '1 minute', durable => false), 0) AS tok \gset
SELECT coord.release('bench:' || :n, :tok);
