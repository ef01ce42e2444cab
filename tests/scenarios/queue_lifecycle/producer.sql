-- 1500 tasks over three queues: half with enqueue_many (batches of 25),
-- half with enqueue; kind = n % 10 decides what the workers do.
DO $producer$
DECLARE q text; b int; g int; base int;
BEGIN
    FOR b IN 0 .. 29 LOOP
        q := (ARRAY['scen_a', 'scen_b', 'scen_c'])[b % 3 + 1];
        base := b * 50;
        INSERT INTO scenario.ids
        SELECT id FROM coord.enqueue_many(q,
            ARRAY(SELECT jsonb_build_object('n', x, 'kind', x % 10) FROM generate_series(base + 1, base + 25) x)) id;
        FOR g IN base + 26 .. base + 50 LOOP
            INSERT INTO scenario.ids
            VALUES (coord.enqueue((ARRAY['scen_a', 'scen_b', 'scen_c'])[g % 3 + 1],
                                  jsonb_build_object('n', g, 'kind', g % 10)));
        END LOOP;
        COMMIT;
        PERFORM pg_sleep(0.2);   -- pacing only
    END LOOP;
END
$producer$;
