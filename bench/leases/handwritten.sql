-- The same logic written by hand in plain SQL: upsert that takes an expired
-- or missing lock and bumps its token, then a matching DELETE.
\set n random(1, 1000)
WITH taken AS (
    INSERT INTO bench_lock AS l (name, owner, token, expires_at)
    VALUES ('bench:' || :n, 'client-' || :client_id, 1, clock_timestamp() + interval '1 minute')
    ON CONFLICT (name) DO UPDATE
        SET owner = excluded.owner, token = l.token + 1, expires_at = excluded.expires_at
        WHERE l.expires_at < clock_timestamp()
    RETURNING token)
SELECT coalesce((SELECT token FROM taken), 0) AS tok \gset
DELETE FROM bench_lock WHERE name = 'bench:' || :n AND token = :tok;
