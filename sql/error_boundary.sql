-- The C++/PostgreSQL error boundary. The test-only entry points live in the
-- library but not in the extension script.
CREATE FUNCTION regress.selftest_throw(kind text) RETURNS int
AS 'pg_coord', 'coord_selftest_throw' LANGUAGE C;
CREATE FUNCTION regress.selftest_destructors_run() RETURNS int
AS 'pg_coord', 'coord_selftest_destructors_run' LANGUAGE C;

\set VERBOSITY default
-- No exception: the body's local object is destroyed on the way out.
SELECT regress.selftest_throw('none') AS destructors_before_return,
       regress.selftest_destructors_run() AS destructors_after_return;
-- A coord::Error keeps its SQLSTATE, detail and hint.
SELECT regress.selftest_throw('coord');
SELECT regress.error_of($$SELECT regress.selftest_throw('coord')$$);
-- Any other C++ exception becomes XX000 or 53200 with its text; never a crash.
SELECT regress.error_of($$SELECT regress.selftest_throw('std')$$);
SELECT regress.error_of($$SELECT regress.selftest_throw('bad_alloc')$$);
SELECT regress.error_of($$SELECT regress.selftest_throw('int')$$);
-- A PostgreSQL ERROR raised beneath C++ frames keeps its SQLSTATE (22012)...
SELECT regress.error_of($$SELECT regress.selftest_throw('raise')$$);
-- ...and the C++ destructor ran in every call: 1 normal return + 6 failing
-- calls above (one object each) = 7.
SELECT regress.selftest_destructors_run() AS destructors_run;
-- The backend is healthy afterwards.
SELECT 1 AS still_alive;
