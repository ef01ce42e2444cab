-- Compare-and-swap registers: a small JSON value per key, with a version
-- that counts its swaps.

CREATE TABLE coord.register_state (
    key        text COLLATE "C" PRIMARY KEY,  -- compared byte-wise: cheaper in every look-up
    value      jsonb NOT NULL,
    version    bigint NOT NULL,        -- 1 after the first write, +1 per swap
    owner_role regrole NOT NULL,       -- the role that first wrote it: only it (or coord_admin) uses the key
    updated_at timestamptz NOT NULL
) WITH (fillfactor = 70);  -- room for HOT updates: every swap rewrites the row
COMMENT ON TABLE coord.register_state IS
    'One row per register key ever written: its value, its version (the number of swaps, 1 after the '
    'first), the role that first wrote it and when it was last swapped. Written only through '
    'coord.register_cas.';
SELECT pg_catalog.pg_extension_config_dump('coord.register_state', '');

-- Invoker rights: the functions take the calling role, and run their SQL as
-- the extension's owner with search_path pinned. EXECUTE to coord_user only.
CREATE FUNCTION coord.register_get(key text)
RETURNS TABLE(value jsonb, version bigint)
AS 'MODULE_PATHNAME', 'coord_register_get'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.register_get(text) IS
    'The value and version of register `key`: version 0 and a NULL value for a key never written. '
    'A key belongs to the role that first wrote it: another role gets 42501 (coord_admin may read '
    'every key).';

CREATE FUNCTION coord.register_cas(key text, expected_version bigint, new_value jsonb)
RETURNS TABLE(swapped boolean, value jsonb, version bigint)
AS 'MODULE_PATHNAME', 'coord_register_cas'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.register_cas(text, bigint, jsonb) IS
    'Set register `key` to new_value only if its version is expected_version (0: never written), '
    'which makes it expected_version + 1. Always returns the current value and version: a loser '
    'retries with them at once, without another read. It waits only for a concurrent swap of the '
    'same version, and only until that transaction ends. new_value: non-NULL jsonb of at most 8192 '
    'bytes (22023). Another role''s key gets 42501.';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.register_state FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.register_get(text), coord.register_cas(text, bigint, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.register_get(text), coord.register_cas(text, bigint, jsonb)
    TO coord_user;
