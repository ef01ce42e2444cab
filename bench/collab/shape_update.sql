-- The hand-written version: UPDATE ... SET fields = fields || $1 (the
-- UPDATE's row lock orders concurrent writers; the last commit wins).
\set shape random(1, 100)
\set x random(0, 1000)
UPDATE bench_shapes SET fields = fields || jsonb_build_object('x', :x::int, 'y', :x::int), updated_at = clock_timestamp()
WHERE board = 'board' AND shape = 's' || :shape::int;
