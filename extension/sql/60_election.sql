-- Leader election on leases. The leader of election E holds the lease
-- 'election:' || E (coord.lease_state); its term is that lease's fencing
-- token, so coord.check_fence('election:' || E, term) fences a leader's
-- writes. This part keeps, per election, the latest term a campaign started
-- and what its leader proclaims, and announces every change with
-- NOTIFY coord_leader.

CREATE TABLE coord.election_state (
    election    text PRIMARY KEY,
    term        bigint NOT NULL,       -- the latest term a campaign started (a lease token)
    leader      text NOT NULL,         -- the candidate that campaigned for it
    leader_role regrole NOT NULL,      -- the role that campaigned for it: owns the term
    value       jsonb,                 -- what the leader proclaims (coord.campaign's value)
    elected_at  timestamptz NOT NULL,
    ended       text,                  -- NULL until the term's end is announced: resigned | expired
    ended_at    timestamptz
);
COMMENT ON TABLE coord.election_state IS
    'One row per election: the latest term a campaign started, its candidate and role, the value it '
    'proclaims, and whether its end (resignation, expiry) was announced. Whether the term is live is '
    'the lease ''election:'' || election in coord.lease_state. Written only through the coord.* '
    'functions and the sweep.';
SELECT pg_catalog.pg_extension_config_dump('coord.election_state', '');

-- Invoker rights: the calling role owns the term it campaigns for, as it owns
-- any lease holding (lease_state.holder_role); the functions run their SQL as
-- the extension's owner with search_path pinned (Spi::run, OwnerSql in
-- src/pg/common/run_as_owner.hpp). EXECUTE is granted to coord_user only.
CREATE FUNCTION coord.campaign(election text, candidate text, ttl interval DEFAULT '3 seconds',
                               value jsonb DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_campaign'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.campaign(text, text, interval, jsonb) IS
    'Campaign for leadership of `election` as `candidate` and, when leading, stay leader until now + '
    'ttl: returns the term (a fencing token of lease ''election:'' || election) when candidate is (now, '
    'or still) the leader, NULL while another candidate leads. Call it every ttl/3 from every '
    'candidate: it is heartbeat and campaign in one. `value` is what the leader proclaims (its '
    'address, say): a new term starts with it, a leader''s call with another non-NULL value replaces '
    'it, NULL keeps it. A new term and a new value are announced with NOTIFY coord_leader. The term '
    'belongs to the calling role: another role''s campaign for it gets 42501.';

CREATE FUNCTION coord.leader(election text)
RETURNS TABLE(leader text, term bigint, value jsonb, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_leader'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.leader(text) IS
    'The current leader of `election`: candidate, term, proclaimed value and until when it leads '
    'unless it campaigns again. No row while nobody leads (never elected, resigned or expired).';

CREATE FUNCTION coord.leader_wait(election text, known_term bigint DEFAULT NULL,
                                  wait_for interval DEFAULT '30 seconds')
RETURNS TABLE(leader text, term bigint, value jsonb, expires_at timestamptz)
AS 'MODULE_PATHNAME', 'coord_leader_wait'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.leader_wait(text, bigint, interval) IS
    'Like coord.leader, but waits while the current term equals known_term (NULL: while nobody '
    'leads) until it changes or wait_for runs out, then answers as coord.leader does. Woken by the '
    'commit of a new term or a resignation, and at the leader''s expiry; not polled. For clients '
    'that cannot LISTEN. Waiting (wait_for > 0) needs shared_preload_libraries = pg_coord and READ '
    'COMMITTED (55000 otherwise).';

CREATE FUNCTION coord.resign(election text, term bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_resign'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.resign(text, bigint) IS
    'Step down at once: true when `term` was the live term of `election` and has ended (a follower''s '
    'next campaign takes over without waiting for the ttl; NOTIFY coord_leader announces it), false '
    'when it was not the live term. Another role''s live term gets 42501.';

CREATE VIEW coord.elections AS
SELECT e.election,
       e.leader,
       e.term,
       e.value,
       e.elected_at,
       CASE WHEN live.live THEN l.expires_at END AS expires_at,
       CASE WHEN live.live THEN 'leading' ELSE COALESCE(e.ended, 'expired') END AS state,
       e.ended_at
FROM coord.election_state e
LEFT JOIN coord.lease_state l ON l.name = 'election:' || e.election
CROSS JOIN LATERAL (SELECT l.token = e.term AND l.owner IS NOT NULL
                           AND l.expires_at > pg_catalog.clock_timestamp() AS live) live;
COMMENT ON VIEW coord.elections IS
    'Every election''s latest term: its candidate (leader), term, proclaimed value, since when, and '
    'its state: leading (with expires_at), resigned, or expired (also when the sweep has not yet '
    'announced the expiry).';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.election_state FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.campaign(text, text, interval, jsonb), coord.leader(text),
    coord.leader_wait(text, bigint, interval), coord.resign(text, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.campaign(text, text, interval, jsonb), coord.leader(text),
    coord.leader_wait(text, bigint, interval), coord.resign(text, bigint) TO coord_user;
GRANT SELECT ON coord.elections TO coord_user;
