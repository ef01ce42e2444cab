-- Idempotent, fenced billing ledger.

CREATE TABLE coord.ledger_entries (
    entry_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Keys compare byte-wise (COLLATE "C"): cheaper than a linguistic
    -- collation in every index search, and the order src/pg/ledger/ledger_store.cpp
    -- searches the idempotency key index in.
    idempotency_key text COLLATE "C" NOT NULL,
    cycle_id        text COLLATE "C" NOT NULL,
    account         text COLLATE "C" NOT NULL,
    amount          numeric NOT NULL,     -- non-zero, at most the currency's decimal places
    currency        text NOT NULL,        -- 3 upper-case letters
    -- ledger_post writes entry_id, status and created_at itself, with the
    -- values of these defaults (src/pg/ledger/ledger_store.cpp).
    status          text NOT NULL DEFAULT 'pending',  -- pending, settled or failed
    external_ref    text,
    fence_name      text,                 -- both NULL or both set
    fence_token     bigint,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    settled_at      timestamptz,          -- NULL exactly while pending
    -- The role that posted the entry: only it (or coord_admin) may settle
    -- it; reading it needs its privileges (regrole: see coord.lease_state).
    posted_by       regrole NOT NULL,
    CONSTRAINT ledger_entries_idempotency_key UNIQUE (idempotency_key)
    -- No CHECK constraints: only coord.ledger_post/ledger_settle write this
    -- table and they validate every value (src/core/ledger/ledger.cpp, unit-tested);
    -- PostgreSQL re-parses CHECK expressions on every statement, a measured
    -- 16 % of a post. src/pg/ledger/ledger_store.cpp reads and writes the
    -- columns directly, by name and type.
);
CREATE INDEX ledger_entries_cycle ON coord.ledger_entries (cycle_id, account);
COMMENT ON TABLE coord.ledger_entries IS
    'One row per idempotency key: a charge of `amount` `currency` to `account` in billing cycle '
    '`cycle_id`, pending until settled or failed. Written only through coord.ledger_post and '
    'coord.ledger_settle; rows are never deleted.';
SELECT pg_catalog.pg_extension_config_dump('coord.ledger_entries', '');
SELECT pg_catalog.pg_extension_config_dump('coord.ledger_entries_entry_id_seq', '');

-- Not SECURITY DEFINER: the ledger functions act for the role that calls
-- them (an entry belongs to the role that posted it). coord.ledger_post runs
-- no SQL and resolves no name through search_path; it reads the key's entry
-- and the fencing lease through their unique indexes and inserts the entry
-- directly (src/pg/ledger/ledger_store.cpp), because setting and restoring
-- search_path on every call cost more than a tenth of a post. Where the
-- executor would do more (a trigger, a CHECK constraint, row-level security:
-- src/pg/common/direct_write.hpp), the insert goes through SQL, run as the
-- extension owner with search_path pinned (src/pg/common/run_as_owner.hpp),
-- as is coord.ledger_settle's SQL. EXECUTE is granted to coord_user only.
CREATE FUNCTION coord.ledger_post(cycle_id text, account text, amount numeric,
                                  currency text DEFAULT 'USD', idempotency_key text DEFAULT NULL,
                                  fence_name text DEFAULT NULL, fence_token bigint DEFAULT NULL)
RETURNS TABLE(entry_id bigint, inserted boolean, status text)
AS 'MODULE_PATHNAME', 'coord_ledger_post'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.ledger_post(text, text, numeric, text, text, text, bigint) IS
    'Record a pending charge once per idempotency key (default: derived from cycle_id and account). '
    'A repeat of the same post returns the existing entry with inserted = false; the same key with '
    'another cycle_id, account, amount or currency raises PC002 and writes nothing. With '
    'fence_name/fence_token the post is written only while that token holds the lease (else PC001), '
    'in the same transaction. Amounts: finite, non-zero, at most the currency''s ISO 4217 decimal '
    'places (2 by default). The entry belongs to the calling role; 42501 for a fence held by another '
    'role and for a key whose entry the caller may not read (posted by a role whose privileges it '
    'lacks).';

CREATE FUNCTION coord.ledger_settle(entry_id bigint, status text, external_ref text DEFAULT NULL,
                                    fence_name text DEFAULT NULL, fence_token bigint DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_ledger_settle'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.ledger_settle(bigint, text, text, text, bigint) IS
    'Record the payment provider''s answer for a pending entry: status ''settled'' or ''failed'', '
    'with its reference. True when the entry moved; false when it already had exactly this status '
    'and external_ref; PC002 when it was settled differently. An entry never returns to pending. '
    'Fenced like coord.ledger_post. 42501 for an entry posted by another role (unless the caller is '
    'coord_admin).';

-- Only the entries the reader may read: pg_has_role is the reader's (not the
-- view owner's). security_barrier: a reader's own functions in WHERE run
-- only on those rows.
CREATE VIEW coord.ledger WITH (security_barrier) AS
SELECT entry_id, cycle_id, account, amount, currency, idempotency_key, status, external_ref,
       fence_name, fence_token, created_at, settled_at, posted_by
FROM coord.ledger_entries
WHERE (SELECT pg_catalog.pg_has_role('coord_admin', 'USAGE'))
   OR pg_catalog.pg_has_role(posted_by, 'USAGE');
COMMENT ON VIEW coord.ledger IS
    'The ledger entries the reader may read (posted by a role whose privileges it has; coord_admin: '
    'all): the charge, its idempotency key (pass it to the payment provider), its status (pending, '
    'settled, failed), the provider''s reference, the lease fence it was posted under, and the role '
    'that posted it.';

CREATE VIEW coord.cycles AS
SELECT cycle_id,
       pg_catalog.count(*) AS entries,
       pg_catalog.count(*) FILTER (WHERE status = 'pending') AS pending,
       pg_catalog.count(*) FILTER (WHERE status = 'settled') AS settled,
       pg_catalog.count(*) FILTER (WHERE status = 'failed') AS failed,
       CASE WHEN pg_catalog.count(DISTINCT currency) = 1
            THEN COALESCE(pg_catalog.sum(amount) FILTER (WHERE status = 'settled'), 0)
       END AS total_settled,
       pg_catalog.min(created_at) AS first_post_at,
       pg_catalog.max(created_at) AS last_post_at,
       CASE WHEN pg_catalog.count(DISTINCT currency) = 1 THEN pg_catalog.min(currency) END
           AS currency
FROM coord.ledger
GROUP BY cycle_id;
COMMENT ON VIEW coord.cycles IS
    'One row per billing cycle, over the entries the reader may read (coord.ledger): how many '
    'entries, how many pending/settled/failed, the settled '
    'total, the first and last post. total_settled and currency are NULL when a cycle mixes '
    'currencies (amounts in different currencies are never added up): group coord.ledger by '
    'currency instead.';

GRANT EXECUTE ON FUNCTION coord.ledger_post(text, text, numeric, text, text, text, bigint),
    coord.ledger_settle(bigint, text, text, text, bigint) TO coord_user;
GRANT SELECT ON coord.ledger, coord.cycles TO coord_user;
