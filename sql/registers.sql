-- Compare-and-swap registers: every function and every error path.

-- A key never written: version 0, NULL value.
SELECT * FROM coord.register_get('config:primary');
-- Version 0 creates it; a second creator loses and sees the winner at once.
SELECT * FROM coord.register_cas('config:primary', 0, '{"node": "a"}');
SELECT * FROM coord.register_cas('config:primary', 0, '{"node": "b"}');
-- The current version swaps; a stale or a future version does not.
SELECT * FROM coord.register_cas('config:primary', 1, '{"node": "b"}');
SELECT * FROM coord.register_cas('config:primary', 1, '{"node": "c"}');
SELECT * FROM coord.register_cas('config:primary', 7, '{"node": "c"}');
SELECT * FROM coord.register_get('config:primary');
-- A loser retries with what it got back, without another read.
SELECT version AS seen FROM coord.register_cas('config:primary', 0, '"lost"') \gset
SELECT swapped, value, version FROM coord.register_cas('config:primary', :seen, '{"node": "c"}');
-- A swap on a key never written (expected > 0) loses and creates nothing.
SELECT * FROM coord.register_cas('config:other', 3, '1');
SELECT count(*) AS rows FROM coord.register_state WHERE key = 'config:other';
-- JSON null is a value like any other.
SELECT * FROM coord.register_cas('config:empty', 0, 'null');
SELECT value IS NULL AS sql_null, jsonb_typeof(value) AS type, version FROM coord.register_get('config:empty');
SELECT key, value, version, owner_role, updated_at <= clock_timestamp() AS stamped
FROM coord.register_state ORDER BY key;

-- A swap is part of the caller's transaction: rolled back, nothing changed.
BEGIN;
SELECT * FROM coord.register_cas('config:primary', 3, '"inside"');
ROLLBACK;
SELECT * FROM coord.register_get('config:primary');

-- Bad arguments: a clear SQLSTATE, and nothing changes.
SELECT regress.error_of($$SELECT * FROM coord.register_get(NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.register_get('')$$);
SELECT regress.error_of(format($$SELECT * FROM coord.register_get(%L)$$, repeat('k', 257)));
SELECT regress.error_of($$SELECT * FROM coord.register_cas(NULL, 0, '1')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('', 0, '1')$$);
SELECT regress.error_of(format($$SELECT * FROM coord.register_cas(%L, 0, '1')$$, repeat('k', 257)));
SELECT regress.error_of($$SELECT * FROM coord.register_cas('config:primary', NULL, '1')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('config:primary', -1, '1')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('config:primary', 9223372036854775807, '1')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('config:primary', 3, NULL)$$);
-- The size limit: 8192 bytes of jsonb (a string of n characters takes n + 8).
SELECT regress.error_of(format($$SELECT * FROM coord.register_cas('config:primary', 3, to_jsonb(%L::text))$$,
                               repeat('v', 8185)));
SELECT regress.error_of(format($$SELECT * FROM coord.register_cas('config:new', 0, to_jsonb(%L::text))$$,
                               repeat('v', 8185)));
SELECT * FROM coord.register_get('config:primary');
SELECT count(*) AS rows FROM coord.register_state WHERE key = 'config:new';
-- The limits themselves are accepted.
SELECT swapped, version FROM coord.register_cas(repeat('k', 256), 0, to_jsonb(repeat('v', 8184)));
-- A swap writes: not in a READ ONLY transaction (25006); a read is fine.
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT * FROM coord.register_cas('config:primary', 3, '"ro"')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('config:ro', 0, '"ro"')$$);
SELECT * FROM coord.register_get('config:primary');
ROLLBACK;
SELECT * FROM coord.register_get('config:primary');
SELECT count(*) AS rows FROM coord.register_state WHERE key = 'config:ro';

-- A key belongs to the role that first wrote it: another role gets 42501
-- (reads too) and changes nothing; coord_admin may use every key. Roles
-- that share keys write them as one group role (SET ROLE).
CREATE ROLE regress_reg_a LOGIN;
CREATE ROLE regress_reg_b LOGIN;
CREATE ROLE regress_reg_ops LOGIN;
CREATE ROLE regress_reg_nobody LOGIN;
CREATE ROLE regress_reg_team NOLOGIN;
GRANT coord_user TO regress_reg_a, regress_reg_b, regress_reg_team;
GRANT coord_admin TO regress_reg_ops;
GRANT regress_reg_team TO regress_reg_a, regress_reg_b;

SET ROLE regress_reg_nobody;
SELECT regress.error_of($$SELECT * FROM coord.register_get('a:k')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('a:k', 0, '1')$$);
RESET ROLE;

SET ROLE regress_reg_a;
SELECT * FROM coord.register_cas('a:k', 0, '"a1"');
RESET ROLE;
SET ROLE regress_reg_b;
SELECT regress.error_of($$SELECT * FROM coord.register_get('a:k')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('a:k', 1, '"b"')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('a:k', 0, '"b"')$$);
SELECT regress.error_of($$SELECT * FROM coord.register_cas('a:k', 9, '"b"')$$);
SELECT regress.error_of($$UPDATE coord.register_state SET value = '"b"'$$);
SELECT regress.error_of($$SELECT * FROM coord.register_state$$);
-- Its own keys work as usual.
SELECT * FROM coord.register_cas('b:k', 0, '"b1"');
RESET ROLE;
SELECT key, value, version, owner_role FROM coord.register_state WHERE key IN ('a:k', 'b:k') ORDER BY key;

SET ROLE regress_reg_ops;
SELECT * FROM coord.register_get('a:k');
SELECT * FROM coord.register_cas('a:k', 1, '"ops"');
RESET ROLE;
SELECT key, value, version, owner_role FROM coord.register_state WHERE key = 'a:k';

-- A shared key: written as the group role, usable by every member.
SET ROLE regress_reg_a;
SET ROLE regress_reg_team;
SELECT * FROM coord.register_cas('team:k', 0, '"from a"');
RESET ROLE;
SET ROLE regress_reg_b;
SELECT regress.error_of($$SELECT * FROM coord.register_cas('team:k', 1, '"as b"')$$);
SET ROLE regress_reg_team;
SELECT * FROM coord.register_cas('team:k', 1, '"from b"');
RESET ROLE;

DELETE FROM coord.register_state;
DROP ROLE regress_reg_a, regress_reg_b, regress_reg_ops, regress_reg_nobody, regress_reg_team;
