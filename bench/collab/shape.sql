-- pg_coord: move one of 100 shapes of ONE board (Lamport time = the
-- client's own counter).
\set shape random(1, 100)
\set x random(0, 1000)
SELECT coord.shape_apply('board', 's' || :shape::int, 'c' || :client_id, :lamport,
    jsonb_build_object('x', :x::int, 'y', :x::int));
\set lamport :lamport + 1
