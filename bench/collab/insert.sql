-- The plain INSERT a user would write instead: the same row into an
-- equivalent table (same primary key, a position from a sequence with a
-- unique index), no ordering rules, no announcement.
INSERT INTO bench_updates (doc, client, seq, payload)
VALUES ('bench', 'r' || :run || '-c' || :client_id, :seq,
    '\x01020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849505152535455565758596061626364');
\set seq :seq + 1
