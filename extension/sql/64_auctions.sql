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
