-- pg_coord install script, assembled by the Makefile from extension/sql/*.sql
-- in file-name order. Each part owns one feature.
\echo Use "CREATE EXTENSION pg_coord" to load this file. \quit

-- Roles are cluster-wide; create them once, keep them across reinstalls.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'coord_user') THEN
        CREATE ROLE coord_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'coord_admin') THEN
        CREATE ROLE coord_admin NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('coord_admin', 'coord_user', 'MEMBER') THEN
        GRANT coord_user TO coord_admin;
    END IF;
END
$$;

COMMENT ON SCHEMA coord IS 'pg_coord: leases with fencing tokens and the features built on them';
REVOKE ALL ON SCHEMA coord FROM PUBLIC;
GRANT USAGE ON SCHEMA coord TO coord_user;
