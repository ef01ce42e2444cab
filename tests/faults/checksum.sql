-- Shared by the fault tests: fault_check.checksum(), the row count and an
-- order-independent sum of row hashes of every table of schema coord (found
-- from the catalog when this runs), and fault_check.sequences(), the state
-- of every sequence of schema coord. One static query each (plpgsql keeps
-- its plan); search_path pinned, so objects of the role calling it cannot
-- capture it.
CREATE SCHEMA fault_check;

DO $do$
DECLARE
    tables text[] := '{}';
    sequences text[] := '{}';
    r record;
BEGIN
    FOR r IN SELECT c.oid::regclass AS rel, c.relname, c.relkind FROM pg_class c
             WHERE c.relnamespace = 'coord'::regnamespace AND c.relkind IN ('r', 'p', 'S')
             ORDER BY c.relname LOOP
        IF r.relkind = 'S' THEN
            sequences := sequences || format('(SELECT %L || ''='' || last_value || '':'' || is_called FROM %s)',
                                             r.relname, r.rel);
        ELSE
            tables := tables || format('(SELECT %L || ''='' || count(*) || '':'' || coalesce(sum(hash_record_extended(t, 0)), 0) FROM %s t)',
                                       r.relname, r.rel);
        END IF;
    END LOOP;
    EXECUTE format($f$CREATE FUNCTION fault_check.checksum() RETURNS text LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp AS $b$ BEGIN RETURN concat_ws(';', %s); END $b$$f$,
        array_to_string(tables, ', '));
    EXECUTE format($f$CREATE FUNCTION fault_check.sequences() RETURNS text LANGUAGE plpgsql
        SET search_path = pg_catalog, pg_temp AS $b$ BEGIN RETURN concat_ws(';', %s); END $b$$f$,
        array_to_string(sequences, ', '));
END $do$;
SELECT fault_check.checksum() IS NOT NULL AND fault_check.sequences() IS NOT NULL AS every_coord_table_hashes;
