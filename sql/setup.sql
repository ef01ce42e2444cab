-- Installs the extension and the helpers every regression test uses.
CREATE EXTENSION pg_coord;

-- regress.error_of(sql) runs a statement and returns 'SQLSTATE: message'
-- (and the detail) instead of failing, so a test can show the code.
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE FUNCTION regress.error_of(statement text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    code text; message text; detail text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL;
    RETURN code || ': ' || message || COALESCE(NULLIF(' | ' || detail, ' | '), '');
END
$$;

-- What a fresh install contains.
SELECT n.nspname, e.extname, e.extversion
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_coord';
SELECT rolname FROM pg_roles WHERE rolname IN ('coord_user', 'coord_admin') ORDER BY 1;
-- Every function and view documents itself.
SELECT p.proname AS undocumented_function FROM pg_proc p
WHERE p.pronamespace = 'coord'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL;
SELECT c.relname AS undocumented_relation FROM pg_class c
WHERE c.relnamespace = 'coord'::regnamespace AND c.relkind IN ('r', 'v')
  AND obj_description(c.oid, 'pg_class') IS NULL;
-- Every SECURITY DEFINER function pins its search_path.
SELECT p.proname AS definer_without_search_path FROM pg_proc p
WHERE p.pronamespace = 'coord'::regnamespace AND p.prosecdef
  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
-- PUBLIC may not execute or write anything in coord.
SELECT p.proname AS public_function FROM pg_proc p
WHERE p.pronamespace = 'coord'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
