-- pg_coord 0.1 -> 0.2. Each issue's changes are in a section of their own.

-- issue 13: leader election, registers, auctions
-- The parts extension/sql/60_election.sql, 62_registers.sql and
-- 64_auctions.sql as a fresh 0.2 install runs them (each is self-contained:
-- it revokes from PUBLIC and grants to coord_user itself).

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

-- Auctions on the compare-and-swap mechanism: each auction is one row whose
-- count of accepted bids is its version. A bid that can lead replaces the
-- high bid only if the count is still the one it read; a bid that cannot
-- lead writes nothing and waits for nobody.

CREATE TABLE coord.auction_state (
    auction          text COLLATE "C" PRIMARY KEY,
    opened_by        regrole NOT NULL,     -- may close it before closes_at
    opened_at        timestamptz NOT NULL,
    closes_at        timestamptz NOT NULL,
    reserve          numeric NOT NULL,     -- a bid must be above it
    high_bidder      text,                 -- NULL until a bid is accepted
    high_amount      numeric,
    high_bidder_role regrole,
    high_bid_at      timestamptz,
    bids             bigint NOT NULL,      -- accepted bids; the row's version
    closed_at        timestamptz           -- set by coord.auction_close
) WITH (fillfactor = 70);  -- room for HOT updates: every accepted bid rewrites the row
COMMENT ON TABLE coord.auction_state IS
    'One row per auction: who opened it, until when it takes bids, its reserve, the high bid (bidder, '
    'amount, role, when), the number of accepted bids and when it was closed. Written only through '
    'coord.auction_open, coord.bid and coord.auction_close.';
SELECT pg_catalog.pg_extension_config_dump('coord.auction_state', '');

-- Invoker rights, SQL run as the extension's owner with search_path pinned.
CREATE FUNCTION coord.auction_open(auction text, closes_at timestamptz, reserve numeric DEFAULT 0)
RETURNS void
AS 'MODULE_PATHNAME', 'coord_auction_open'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.auction_open(text, timestamptz, numeric) IS
    'Open auction `auction`, taking bids until closes_at (server clock, in the future) above '
    '`reserve`. The same call again by the same role changes nothing; another auction of that name '
    'is 42710. The calling role may close it early.';

CREATE FUNCTION coord.bid(auction text, bidder text, amount numeric)
RETURNS TABLE("leading" boolean, high_bidder text, high_amount numeric)
AS 'MODULE_PATHNAME', 'coord_bid'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.bid(text, text, numeric) IS
    'Bid `amount` for `bidder`. Accepted (leading = true) only above the current high bid and the '
    'reserve, before closes_at; of equal bids the one that commits first leads. Always returns the '
    'high bid after the call, so a bidder that did not lead can bid again at once. After the close: '
    'PC003. Amounts: 0 or more, below 10^12, at most 6 decimal places (22023), never rounded.';

CREATE FUNCTION coord.auction_close(auction text)
RETURNS TABLE(winner text, amount numeric, bids bigint)
AS 'MODULE_PATHNAME', 'coord_auction_close'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.auction_close(text) IS
    'Close the auction and return its winner, the winning amount and the number of accepted bids '
    '(NULL winner when no bid was accepted). Idempotent: later calls return the same. Anyone may '
    'close it after closes_at; before, only the opening role (or coord_admin): 42501.';

CREATE VIEW coord.auctions AS
SELECT auction,
       opened_by,
       opened_at,
       closes_at,
       reserve,
       high_bidder,
       high_amount,
       high_bid_at,
       bids,
       CASE WHEN closed_at IS NOT NULL OR closes_at <= pg_catalog.clock_timestamp()
            THEN 'closed' ELSE 'open' END AS state,
       COALESCE(closed_at, CASE WHEN closes_at <= pg_catalog.clock_timestamp()
                                           THEN closes_at END) AS closed_at
FROM coord.auction_state;
COMMENT ON VIEW coord.auctions IS
    'Every auction: who opened it, until when it takes bids, its reserve, the high bid so far (the '
    'winner once closed), the number of accepted bids, and whether it is open or closed.';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.auction_state FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.auction_open(text, timestamptz, numeric),
    coord.bid(text, text, numeric), coord.auction_close(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.auction_open(text, timestamptz, numeric),
    coord.bid(text, text, numeric), coord.auction_close(text) TO coord_user;
GRANT SELECT ON coord.auctions TO coord_user;

