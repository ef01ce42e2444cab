-- A term belongs to the role that campaigned for it: another role's
-- campaign for it, or its resignation, gets 42501 and changes nothing.
-- Terms are fencing tokens: shown counted from here (1, 2, ...; #n in
-- messages), see sql/setup.sql.
SELECT regress.count_tokens_from_here();
CREATE ROLE regress_leader_a LOGIN;
CREATE ROLE regress_leader_b LOGIN;
CREATE ROLE regress_leader_ops LOGIN;
CREATE ROLE regress_leader_nobody LOGIN;
GRANT coord_user TO regress_leader_a, regress_leader_b;
GRANT coord_admin TO regress_leader_ops;

-- Without coord_user: nothing.
SET ROLE regress_leader_nobody;
SELECT regress.error_of($$SELECT coord.campaign('priv', 'node-x')$$);
SELECT regress.error_of($$SELECT * FROM coord.leader('priv')$$);
SELECT regress.error_of($$SELECT * FROM coord.leader_wait('priv')$$);
SELECT regress.error_of($$SELECT coord.resign('priv', 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.elections$$);
RESET ROLE;

SET ROLE regress_leader_a;
SELECT coord.campaign('priv', 'node-a', '1 hour', '{"addr": "a"}') AS term \gset
RESET ROLE;
SELECT expires_at AS expiry_before FROM coord.leader('priv') \gset
SELECT leader, leader_role FROM coord.election_state WHERE election = 'priv';

-- Role b: the same candidate string does not make it the holder.
SET ROLE regress_leader_b;
SELECT regress.error_of($$SELECT coord.campaign('priv', 'node-a', '2 hours')$$);
SELECT regress.error_of($$SELECT coord.campaign('priv', 'node-a', '1 hour', '{"addr": "b"}')$$);
SELECT regress.error_of(format($$SELECT coord.resign('priv', %s)$$, :term));
-- As a follower of its own it may campaign, and anyone may look.
SELECT coord.campaign('priv', 'node-b') IS NULL AS follower;
SELECT leader, term = :term AS same_term, value FROM coord.leader('priv');
SELECT leader, term = :term AS same_term FROM coord.leader_wait('priv', :term - 1);
SELECT election, leader, state FROM coord.elections WHERE election = 'priv';
-- Nobody writes the tables directly.
SELECT regress.error_of($$UPDATE coord.election_state SET leader = 'node-b'$$);
SELECT regress.error_of($$DELETE FROM coord.election_state$$);
SELECT regress.error_of($$UPDATE coord.lease_state SET owner = 'node-b' WHERE name = 'election:priv'$$);
RESET ROLE;
SELECT leader, term = :term AS same_term, value, expires_at = :'expiry_before' AS expiry_unchanged
FROM coord.leader('priv');

-- Role a goes on as before.
SET ROLE regress_leader_a;
SELECT coord.campaign('priv', 'node-a', '1 hour') = :term AS same_term;
RESET ROLE;

-- coord_admin may end any term.
SET ROLE regress_leader_ops;
SELECT coord.resign('priv', :term) AS resigned_by_admin;
RESET ROLE;
SELECT count(*) AS rows FROM coord.leader('priv');
SELECT state FROM coord.elections WHERE election = 'priv';

-- After the term ended, role b's candidate may lead (a new term, b's own).
SET ROLE regress_leader_b;
SELECT coord.campaign('priv', 'node-a', '1 hour') > :term AS new_term_for_b;
RESET ROLE;
SELECT leader, leader_role FROM coord.election_state WHERE election = 'priv';

DELETE FROM coord.election_state;
DELETE FROM coord.lease_state WHERE name LIKE 'election:%';
DROP ROLE regress_leader_a, regress_leader_b, regress_leader_ops, regress_leader_nobody;
