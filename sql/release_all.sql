-- coord.release_all(owner) (issue 12): every lease an owner holds under the
-- calling role, durable and memory holdings, in one call; other roles'
-- holdings of the same owner string are left alone; refused calls change
-- nothing.
CREATE FUNCTION regress.lease_digest() RETURNS text LANGUAGE sql AS $$
    SELECT md5(COALESCE((SELECT string_agg(format('%s|%s|%s|%s', name, owner, holder_role, durable), ';' ORDER BY name)
                         FROM coord.leases WHERE name LIKE 'ra:%'), ''))
$$;
CREATE ROLE regress_ra_a;
CREATE ROLE regress_ra_b;
CREATE ROLE regress_ra_admin;
GRANT coord_user TO regress_ra_a, regress_ra_b;
GRANT coord_admin TO regress_ra_admin;
GRANT EXECUTE ON FUNCTION regress.lease_digest() TO regress_ra_a, regress_ra_b, regress_ra_admin;
GRANT USAGE ON SCHEMA regress TO regress_ra_a, regress_ra_b, regress_ra_admin;

SET ROLE regress_ra_a;
SELECT coord.acquire('ra:1', 'job-1') IS NOT NULL AS held,
       coord.acquire('ra:2', 'job-1') IS NOT NULL AS held,
       coord.acquire('ra:mem', 'job-1', durable => false) IS NOT NULL AS held_in_memory,
       coord.acquire('ra:3', 'job-2') IS NOT NULL AS other_owner;
SET ROLE regress_ra_b;
SELECT coord.acquire('ra:4', 'job-1') IS NOT NULL AS same_owner_other_role;
RESET ROLE;
SELECT name, owner, holder_role, durable FROM coord.leases WHERE name LIKE 'ra:%' ORDER BY name;

-- Bad input: a clear SQLSTATE, nothing released.
SELECT regress.lease_digest() AS digest \gset
SET ROLE regress_ra_a;
SELECT regress.error_of($$SELECT coord.release_all(NULL)$$);
SELECT regress.error_of($$SELECT coord.release_all('')$$);
SELECT regress.error_of(format('SELECT coord.release_all(%L)', repeat('o', 257)));
-- Nobody of that name, or an administrator: nothing of regress_ra_a's.
SELECT coord.release_all('job-none') AS released_none;
SET ROLE regress_ra_admin;
SELECT coord.release_all('job-1') AS admin_releases_only_its_own;
RESET ROLE;
SELECT regress.lease_digest() = :'digest' AS unchanged;
-- Without coord_user: no EXECUTE.
CREATE ROLE regress_ra_none;
SET ROLE regress_ra_none;
SELECT regress.error_of($$SELECT coord.release_all('job-1')$$);
RESET ROLE;
DROP ROLE regress_ra_none;

-- The owner's own holdings, durable and in memory; again: none left.
SET ROLE regress_ra_a;
SELECT coord.release_all('job-1') AS released;
SELECT coord.release_all('job-1') AS released_again;
RESET ROLE;
SELECT name, owner, holder_role, durable FROM coord.leases WHERE name LIKE 'ra:%' ORDER BY name;
SET ROLE regress_ra_b;
SELECT coord.release_all('job-1') AS released_by_b;
RESET ROLE;
-- A released name is free: another owner takes it at once.
SELECT coord.acquire('ra:1', 'job-9') IS NOT NULL AS free_again;
SELECT name, owner FROM coord.leases WHERE name LIKE 'ra:%' ORDER BY name;
SELECT has_function_privilege('coord_user', 'coord.release_all(text)', 'EXECUTE') AS user_may,
       has_function_privilege('public', 'coord.release_all(text)', 'EXECUTE') AS public_may;

SELECT coord.force_release(name) FROM coord.leases WHERE name LIKE 'ra:%' ORDER BY name;
REVOKE USAGE ON SCHEMA regress FROM regress_ra_a, regress_ra_b, regress_ra_admin;
REVOKE EXECUTE ON FUNCTION regress.lease_digest() FROM regress_ra_a, regress_ra_b, regress_ra_admin;
DROP ROLE regress_ra_a, regress_ra_b, regress_ra_admin;
