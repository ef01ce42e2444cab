-- Leader election: every function and every error path. Terms are lease
-- tokens from the one token allocator.

-- Terms are fencing tokens: shown counted from here (1, 2, ...; #n in
-- messages), see sql/setup.sql.
SELECT regress.count_tokens_from_here();

-- A first campaign starts a term; another candidate is a follower (NULL).
SELECT coord.campaign('db', 'node-1', ttl => '1 hour', value => '{"addr": "10.0.0.1:5432"}') AS term \gset
SELECT regress.tok(:term) AS term;
SELECT coord.campaign('db', 'node-2', ttl => '1 hour') IS NULL AS follower;
SELECT leader, term = :term AS same_term, value, expires_at > now() + '59 minutes' AS live
FROM coord.leader('db');
-- The term is the fencing token of lease 'election:db'.
SELECT name, owner, token = :term AS token_is_term FROM coord.leases WHERE name = 'election:db';
SELECT election, leader, term = :term AS same_term, value, state, ended_at FROM coord.elections;

-- The leader's own call is its heartbeat: the same term, a later expiry.
SELECT expires_at AS expiry_before FROM coord.leader('db') \gset
SELECT coord.campaign('db', 'node-1', ttl => '2 hours') = :term AS same_term;
SELECT expires_at > :'expiry_before' AS extended, value FROM coord.leader('db');
-- With another value it proclaims it (same term); NULL keeps the value.
SELECT coord.campaign('db', 'node-1', ttl => '1 hour', value => '{"addr": "10.0.0.9:5432"}') = :term AS same_term;
SELECT leader, term = :term AS same_term, value FROM coord.leader('db');
SELECT coord.campaign('db', 'node-1', ttl => '1 hour') = :term AS same_term;
SELECT value FROM coord.leader('db');
-- A follower's value is not stored.
SELECT coord.campaign('db', 'node-2', ttl => '1 hour', value => '"node-2 here"') IS NULL AS follower;
SELECT leader, value FROM coord.leader('db');

-- The leader's writes are fenced by its term.
CREATE TABLE regress.leader_writes (term bigint, note text);
BEGIN;
SELECT coord.check_fence('election:db', :term);
INSERT INTO regress.leader_writes VALUES (:term, 'by the leader');
COMMIT;
SELECT regress.error_of(format($$SELECT coord.check_fence('election:db', %s)$$, :term - 1));

-- leader_wait answers at once when the term differs from known_term (NULL:
-- nobody known to lead), else when wait_for runs out, with the same row.
SELECT leader, term = :term AS same_term FROM coord.leader_wait('db');
SELECT leader, term = :term AS same_term FROM coord.leader_wait('db', known_term => :term - 1);
SELECT leader, term = :term AS same_term FROM coord.leader_wait('db', :term, wait_for => '0');
SELECT leader, term = :term AS same_term FROM coord.leader_wait('db', :term, wait_for => '50 ms');
-- An election nobody ever campaigned in: no row, also after a wait.
SELECT count(*) AS rows FROM coord.leader('never');
SELECT count(*) AS rows FROM coord.leader_wait('never', wait_for => '20 ms');
SELECT count(*) AS rows FROM coord.leader_wait('never', known_term => 1, wait_for => '1 hour');

-- resign: only the live term ends (true), at once; anything else is false.
SELECT coord.resign('db', :term + 1) AS wrong_term;
SELECT coord.resign('never', 1) AS unknown_election;
SELECT coord.resign('db', :term) AS resigned;
SELECT coord.resign('db', :term) AS resigned_twice;
SELECT count(*) AS rows FROM coord.leader('db');
SELECT election, leader, term = :term AS same_term, expires_at, state, ended_at IS NOT NULL AS ended
FROM coord.elections;
SELECT count(*) AS rows FROM coord.leader_wait('db', :term, wait_for => '1 hour');
-- The deposed leader's write is refused and rolls back.
SELECT regress.error_of(format($$
    WITH fenced AS (SELECT coord.check_fence('election:db', %s))
    INSERT INTO regress.leader_writes SELECT %s, 'after resigning' FROM fenced$$, :term, :term));
SELECT note FROM regress.leader_writes ORDER BY note;
-- A follower takes over without waiting for the ttl: a larger term, its own value.
SELECT coord.campaign('db', 'node-2', ttl => '1 hour') AS term2 \gset
SELECT regress.tok(:term2) AS term2, :term2 > :term AS larger_term;
SELECT leader, term = :term2 AS new_term, value FROM coord.leader('db');
SELECT election, leader, term = :term2 AS new_term, state, ended_at FROM coord.elections;

-- Expiry: nobody leads once the ttl has passed; the term's end is announced
-- once, by the sweep (or by the campaign that takes over).
SELECT coord.campaign('brief', 'node-1', ttl => '1 millisecond') AS brief_term \gset
SELECT pg_sleep(0.01);
SELECT count(*) AS rows FROM coord.leader('brief');
SELECT count(*) AS rows FROM coord.leader_wait('brief', :brief_term, wait_for => '1 hour');
SELECT state, ended_at FROM coord.elections WHERE election = 'brief';
SELECT coord.sweep() -> 'election_terms_expired' AS announced;
SELECT state, ended_at IS NOT NULL AS ended FROM coord.elections WHERE election = 'brief';
SELECT coord.sweep() -> 'election_terms_expired' AS announced_again;
-- The same candidate whose term lapsed gets a new, larger term.
SELECT coord.campaign('brief', 'node-1', ttl => '1 hour') > :brief_term AS new_larger_term;
SELECT state, ended_at FROM coord.elections WHERE election = 'brief';

-- Bad arguments: a clear SQLSTATE, and nothing changes.
SELECT regress.error_of($$SELECT coord.campaign(NULL, 'node-1')$$);
SELECT regress.error_of($$SELECT coord.campaign('', 'node-1')$$);
SELECT regress.error_of(format($$SELECT coord.campaign(%L, 'node-1')$$, repeat('e', 248)));
SELECT regress.error_of($$SELECT coord.campaign('new', NULL)$$);
SELECT regress.error_of($$SELECT coord.campaign('new', '')$$);
SELECT regress.error_of(format($$SELECT coord.campaign('new', %L)$$, repeat('c', 257)));
SELECT regress.error_of($$SELECT coord.campaign('new', 'node-1', NULL)$$);
SELECT regress.error_of($$SELECT coord.campaign('new', 'node-1', '0')$$);
SELECT regress.error_of($$SELECT coord.campaign('new', 'node-1', '-1 second')$$);
SELECT regress.error_of($$SELECT coord.campaign('new', 'node-1', '31 days')$$);
SELECT regress.error_of(format($$SELECT coord.campaign('new', 'node-1', value => to_jsonb(%L::text))$$,
                               repeat('v', 8200)));
SELECT regress.error_of(format($$SELECT coord.campaign('db', 'node-2', value => to_jsonb(%L::text))$$,
                               repeat('v', 8200)));
SELECT count(*) AS elections_new, (SELECT count(*) FROM coord.lease_state WHERE name = 'election:new') AS leases_new
FROM coord.elections WHERE election = 'new';
SELECT leader, term = :term2 AS same_term, value FROM coord.leader('db');
-- The limits themselves are accepted: a 247-byte election name (the lease
-- name is then 256 bytes), 256-byte candidate, 30-day ttl, 8 kB value.
SELECT coord.campaign(repeat('e', 247), repeat('c', 256), '30 days',
                      to_jsonb(repeat('v', 8180))) > 0 AS at_the_limits;
SELECT regress.error_of($$SELECT * FROM coord.leader(NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.leader('')$$);
SELECT regress.error_of($$SELECT * FROM coord.leader_wait(NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.leader_wait('db', wait_for => NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.leader_wait('db', wait_for => '-1 second')$$);
SELECT regress.error_of($$SELECT * FROM coord.leader_wait('db', wait_for => '25 hours')$$);
SELECT regress.error_of($$SELECT coord.resign(NULL, 1)$$);
SELECT regress.error_of($$SELECT coord.resign('db', NULL)$$);
SELECT leader, term = :term2 AS same_term FROM coord.leader('db');
-- Waiting needs READ COMMITTED (a transaction snapshot would never see the
-- change); a look without waiting works in any isolation level.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT regress.error_of(format($$SELECT * FROM coord.leader_wait('db', %s, '1 second')$$, :term2));
SELECT leader FROM coord.leader_wait('db', :term2, '0');
COMMIT;
-- A campaign writes: not in a READ ONLY transaction (25006), nothing changes.
SELECT expires_at AS expiry_before FROM coord.leader('db') \gset
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT coord.campaign('db', 'node-2', '2 hours')$$);
SELECT regress.error_of($$SELECT coord.campaign('ro', 'node-2')$$);
SELECT leader FROM coord.leader('db');
ROLLBACK;
SELECT expires_at = :'expiry_before' AS expiry_unchanged FROM coord.leader('db');
SELECT count(*) AS ro_elections FROM coord.elections WHERE election = 'ro';

-- A campaign that rolls back leaves no term behind.
BEGIN;
SELECT coord.campaign('rolled-back', 'node-1') AS rolled_back_term \gset
SELECT regress.tok(:rolled_back_term) > 0 AS leading_inside;
ROLLBACK;
SELECT count(*) AS rows FROM coord.leader('rolled-back');
SELECT count(*) AS elections FROM coord.elections WHERE election = 'rolled-back';
-- Its token is never handed out again: the next term is larger.
SELECT coord.campaign('rolled-back', 'node-1') - :rolled_back_term AS after_rolled_back;

DROP TABLE regress.leader_writes;
DELETE FROM coord.election_state;
DELETE FROM coord.lease_state WHERE name LIKE 'election:%';
