-- Roles: PUBLIC can do nothing, coord_user uses the API, only coord_admin
-- may force a release; nobody but the functions writes the lease table.
CREATE ROLE regress_app LOGIN;
CREATE ROLE regress_ops LOGIN;
CREATE ROLE regress_nobody LOGIN;
GRANT coord_user TO regress_app;
GRANT coord_admin TO regress_ops;
SELECT regress.count_tokens_from_here();

SET ROLE regress_nobody;
SELECT regress.error_of($$SELECT coord.acquire('priv:lease', 'nobody')$$);
SELECT regress.error_of($$SELECT * FROM coord.leases$$);
RESET ROLE;

SET ROLE regress_app;
SELECT regress.tok(coord.acquire('priv:lease', 'app')) AS token;
SELECT name, owner, regress.tok(token) AS token FROM coord.leases WHERE name = 'priv:lease';
SELECT regress.error_of($$SELECT coord.force_release('priv:lease')$$);
SELECT regress.error_of($$UPDATE coord.lease_state SET token = 0$$);
SELECT regress.error_of($$DELETE FROM coord.lease_state$$);
SELECT regress.error_of($$INSERT INTO coord.lease_state VALUES ('x', NULL, 0, NULL, NULL)$$);
RESET ROLE;
SELECT owner, regress.tok(token) AS token FROM coord.leases WHERE name = 'priv:lease';

SET ROLE regress_ops;
SELECT coord.force_release('priv:lease') AS forced;
RESET ROLE;
SELECT count(*) AS holders FROM coord.leases WHERE name = 'priv:lease';

DROP ROLE regress_app, regress_ops, regress_nobody;
