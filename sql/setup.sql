-- Installs the extension and the helpers every regression test uses.
CREATE EXTENSION pg_coord;

-- Fencing tokens are large numbers (epoch << 47 | counter; README, "How
-- tokens are allocated"), so a test shows them counted from a start it sets:
-- regress.count_tokens_from_here() takes one token as the start;
-- regress.tok(t) is how far t is past it (1, 2, ... for the next tokens
-- handed out); regress.tokens_in(text) writes each token (a number in the
-- start's epoch) in a message as #<tok(N)> (error_of does that).
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE TABLE regress.token_start (token bigint NOT NULL);
GRANT SELECT ON regress.token_start TO PUBLIC;
CREATE FUNCTION regress.count_tokens_from_here() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM regress.token_start;
    INSERT INTO regress.token_start SELECT coord.new_token(0);
$$;
CREATE FUNCTION regress.tok(t bigint) RETURNS bigint  -- 0 (no token yet) stays 0
LANGUAGE sql STABLE AS $$ SELECT CASE WHEN t = 0 THEN 0 ELSE t - token END FROM regress.token_start $$;
CREATE FUNCTION regress.tokens_in(message text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n text;
    start bigint := (SELECT token FROM regress.token_start);
BEGIN
    FOR n IN SELECT DISTINCT (regexp_matches(message, '\m[0-9]{15,19}\M', 'g'))[1] LOOP
        IF n::numeric < 9223372036854775808 AND n::bigint >> 47 = start >> 47 THEN
            message := regexp_replace(message, '\m' || n || '\M', '#' || regress.tok(n::bigint), 'g');
        END IF;
    END LOOP;
    RETURN message;
END
$$;
SELECT regress.count_tokens_from_here();

-- regress.error_of(sql) runs a statement and returns 'SQLSTATE: message'
-- (and the detail) instead of failing, so a test can show the code.
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
    RETURN regress.tokens_in(code || ': ' || message || COALESCE(NULLIF(' | ' || detail, ' | '), ''));
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
