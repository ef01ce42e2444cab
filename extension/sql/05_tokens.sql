-- Fencing tokens: one allocator for every holding (leases, task claims).
-- Both sequences are read and advanced by the extension's C code only
-- (src/pg/common/token_allocator.cpp); no role is granted anything on them.
-- README, "How tokens are allocated", gives the reasoning.

CREATE SEQUENCE coord.token_allocator AS bigint MINVALUE 1 MAXVALUE 140737488355327 NO CYCLE;
COMMENT ON SEQUENCE coord.token_allocator IS
    'The counter in the low 47 bits of every fencing token. Not transactional: a rolled-back grant''s '
    'token is never handed out again; its WAL is flushed before a token is returned. Kept by pg_dump.';
SELECT pg_catalog.pg_extension_config_dump('coord.token_allocator', '');

CREATE SEQUENCE coord.token_epoch AS bigint MINVALUE 0 START 0 NO CYCLE;
COMMENT ON SEQUENCE coord.token_epoch IS
    'Which token epoch (the high 16 bits of a token) this cluster''s timeline has, written once per '
    'timeline: the epoch grows with every promotion, and a dump or pg_upgrade carries it to the next '
    'cluster, whose tokens continue above. Not for hand edits. Kept by pg_dump.';
SELECT pg_catalog.pg_extension_config_dump('coord.token_epoch', '');

CREATE FUNCTION coord.new_token(last bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_new_token'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION coord.new_token(bigint) IS
    'Internal (the extension''s own SQL, e.g. a task claim): a fencing token never handed out before '
    'and larger than `last` (the name''s last token; NULL or 0: none). No role may call it.';
REVOKE ALL ON FUNCTION coord.new_token(bigint) FROM PUBLIC;
