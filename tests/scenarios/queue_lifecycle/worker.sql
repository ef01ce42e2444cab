-- One worker process (issue 12 scenario queue_lifecycle): claims from three
-- queues with claim(wait_for), acts on each task by its payload's kind and
-- logs (RAISE NOTICE, after COMMIT) only the outcomes the server accepted.
DO $worker$
DECLARE
    me text := current_setting('scenario.worker');
    ids bigint[]; toks bigint[]; kinds int[]; atts int[];
    c_ids bigint[]; c_toks bigint[];
    done_ids bigint[];
    log text[];
    st text; n int; r record; i int;
    started timestamptz := clock_timestamp();
BEGIN
    LOOP
        EXIT WHEN (SELECT stop FROM scenario.control)
               OR clock_timestamp() - started > interval '58 seconds';
        COMMIT;
        SELECT array_agg(task_id ORDER BY task_id), array_agg(token ORDER BY task_id),
               array_agg((payload->>'kind')::int ORDER BY task_id), array_agg(attempt ORDER BY task_id)
          INTO ids, toks, kinds, atts
          FROM coord.claim(ARRAY['scen_a', 'scen_b', 'scen_c'], me, ttl => '30 seconds',
                           batch => 10, wait_for => '1 second');
        COMMIT;
        CONTINUE WHEN ids IS NULL;
        c_ids := '{}'; c_toks := '{}'; log := '{}';
        FOR i IN 1 .. array_length(ids, 1) LOOP
            IF kinds[i] = 7 THEN                       -- permanent failure
                BEGIN
                    st := coord.fail(ids[i], toks[i], 'permanent', retry => false);
                    log := log || format('%s %s', st, ids[i]);
                EXCEPTION WHEN SQLSTATE 'PC001' THEN log := log || format('stale %s', ids[i]);
                END;
            ELSIF kinds[i] = 8 AND atts[i] = 1 THEN    -- transient failure, retried
                BEGIN
                    st := coord.fail(ids[i], toks[i], 'transient', retry_in => '200 ms');
                    log := log || format('retried_%s %s', st, ids[i]);
                EXCEPTION WHEN SQLSTATE 'PC001' THEN log := log || format('stale %s', ids[i]);
                END;
            ELSIF kinds[i] = 6 THEN                    -- snooze once, then complete
                BEGIN
                    INSERT INTO scenario.snoozed VALUES (ids[i]) ON CONFLICT DO NOTHING;
                    GET DIAGNOSTICS n = ROW_COUNT;
                    IF n = 1 THEN
                        PERFORM coord.snooze(ids[i], toks[i], '300 ms');
                        log := log || format('snoozed %s', ids[i]);
                    ELSE
                        c_ids := c_ids || ids[i]; c_toks := c_toks || toks[i];
                    END IF;
                EXCEPTION WHEN SQLSTATE 'PC001' THEN log := log || format('stale %s', ids[i]);
                END;
            ELSE
                c_ids := c_ids || ids[i]; c_toks := c_toks || toks[i];
            END IF;
        END LOOP;
        IF array_length(c_ids, 1) > 0 THEN
            BEGIN
                SELECT array_agg(task_id) FILTER (WHERE completed) INTO done_ids
                  FROM coord.complete_many(c_ids, c_toks);
                log := log || ARRAY(SELECT format('completed %s', x) FROM unnest(done_ids) x);
                log := log || ARRAY(SELECT format('notcompleted %s', x) FROM unnest(c_ids) x
                                     WHERE x <> ALL (coalesce(done_ids, '{}')));
            EXCEPTION WHEN SQLSTATE 'PC001' THEN
                -- A cancel won against one of the batch: nothing of it was
                -- written; complete one by one.
                log := log || 'batch_stale 0'::text;
                FOR i IN 1 .. array_length(c_ids, 1) LOOP
                    BEGIN
                        IF coord.complete(c_ids[i], c_toks[i]) THEN
                            log := log || format('completed %s', c_ids[i]);
                        ELSE
                            log := log || format('notcompleted %s', c_ids[i]);
                        END IF;
                    EXCEPTION WHEN SQLSTATE 'PC001' THEN log := log || format('stale %s', c_ids[i]);
                    END;
                END LOOP;
            END;
        END IF;
        COMMIT;
        FOR i IN 1 .. coalesce(array_length(log, 1), 0) LOOP
            RAISE NOTICE 'OUTCOME % %', me, log[i];
        END LOOP;
    END LOOP;
END
$worker$;
