-- pg_coord: client :client_id of run :run appends its next update (64 bytes,
-- like a small Yjs update) to ONE shared document. seq counts 1, 2, 3 ...
-- per client (a pgbench variable, no round trip).
SELECT position FROM coord.doc_append('bench', 'r' || :run || '-c' || :client_id, :seq,
    '\x01020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849505152535455565758596061626364');
\set seq :seq + 1
