-- Auctions: every function and every error path. The bid result's first
-- column is "leading", a reserved word in SQL: quote it.

SELECT now() + interval '1 hour' AS closes \gset
SELECT coord.auction_open('ad-1', :'closes', reserve => 1.00);
-- The same call again changes nothing; another auction of that name is 42710.
SELECT coord.auction_open('ad-1', :'closes', reserve => 1);
SELECT regress.error_of(format($$SELECT coord.auction_open('ad-1', %L::timestamptz + '1 minute', 1)$$, :'closes'));
SELECT regress.error_of(format($$SELECT coord.auction_open('ad-1', %L, 2)$$, :'closes'));
SELECT auction, opened_by, closes_at = :'closes' AS closes_as_opened, reserve, high_bidder,
       high_amount, bids, state, closed_at
FROM coord.auctions;

-- Only above the reserve and above the high bid; an equal bid does not lead.
SELECT * FROM coord.bid('ad-1', 'bidder-a', 1.00);
SELECT * FROM coord.bid('ad-1', 'bidder-a', 5.00);
SELECT * FROM coord.bid('ad-1', 'bidder-b', 5);
SELECT * FROM coord.bid('ad-1', 'bidder-c', 4.99);
SELECT "leading", high_bidder, high_amount FROM coord.bid('ad-1', 'bidder-d', 5.000001);
-- The same bidder may raise its own bid.
SELECT * FROM coord.bid('ad-1', 'bidder-d', 6);
SELECT high_bidder, high_amount, bids, high_bid_at <= clock_timestamp() AS stamped, state
FROM coord.auctions WHERE auction = 'ad-1';

-- Bad arguments: a clear SQLSTATE, and nothing changes.
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-e', 7.0000001)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-e', 'NaN')$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-e', 'Infinity')$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-e', -7)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-e', 1000000000000)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-e', NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', NULL, 7)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', '', 7)$$);
SELECT regress.error_of(format($$SELECT * FROM coord.bid('ad-1', %L, 7)$$, repeat('b', 257)));
SELECT regress.error_of($$SELECT * FROM coord.bid(NULL, 'bidder-e', 7)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('', 'bidder-e', 7)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('no-such-auction', 'bidder-e', 7)$$);
SELECT high_bidder, high_amount, bids FROM coord.auctions WHERE auction = 'ad-1';
-- Trailing zeros are not more precision; the largest amount is accepted.
SELECT * FROM coord.bid('ad-1', 'bidder-e', 7.000000000);
SELECT * FROM coord.bid('ad-1', 'bidder-e', 999999999999.999999);
-- A bid writes: not in a READ ONLY transaction (25006); a bid that cannot
-- lead writes nothing and is answered there too.
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-2-not-yet', 'bidder-f', 1)$$);
ROLLBACK;
SELECT coord.auction_open('ad-2', now() + interval '1 hour');
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-2', 'bidder-f', 1)$$);
SELECT * FROM coord.bid('ad-2', 'bidder-f', 0);
ROLLBACK;
-- A bid is part of the caller's transaction: rolled back, nothing changed.
BEGIN;
SELECT * FROM coord.bid('ad-2', 'bidder-f', 3);
ROLLBACK;
SELECT high_bidder, high_amount, bids FROM coord.auctions WHERE auction = 'ad-2';

-- auction_open's arguments.
SELECT regress.error_of($$SELECT coord.auction_open(NULL, now() + interval '1 hour')$$);
SELECT regress.error_of($$SELECT coord.auction_open('', now() + interval '1 hour')$$);
SELECT regress.error_of(format($$SELECT coord.auction_open(%L, now() + interval '1 hour')$$, repeat('a', 257)));
SELECT regress.error_of($$SELECT coord.auction_open('ad-bad', NULL)$$);
SELECT regress.error_of($$SELECT coord.auction_open('ad-bad', now() - interval '1 second')$$);
SELECT regress.error_of($$SELECT coord.auction_open('ad-bad', 'infinity')$$);
SELECT regress.error_of($$SELECT coord.auction_open('ad-bad', now() + interval '1 hour', NULL)$$);
SELECT regress.error_of($$SELECT coord.auction_open('ad-bad', now() + interval '1 hour', -1)$$);
SELECT regress.error_of($$SELECT coord.auction_open('ad-bad', now() + interval '1 hour', 0.0000001)$$);
SELECT count(*) AS rows FROM coord.auction_state WHERE auction = 'ad-bad';

-- Closing: the opener may close early; then the result stays the same and
-- bids are an invalid transition (PC003).
SELECT * FROM coord.auction_close('ad-1');
SELECT * FROM coord.auction_close('ad-1');
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-g', 2000000000)$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-1', 'bidder-g', 1)$$);
SELECT high_bidder, bids, state, closed_at IS NOT NULL AS closed FROM coord.auctions WHERE auction = 'ad-1';
SELECT regress.error_of($$SELECT * FROM coord.auction_close(NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.auction_close('no-such-auction')$$);
-- No accepted bid: no winner.
SELECT * FROM coord.auction_close('ad-2');

-- closes_at passing closes it too (server clock); anyone may then close it.
SELECT coord.auction_open('ad-3', clock_timestamp() + interval '1 second', 10);
SELECT * FROM coord.bid('ad-3', 'bidder-h', 11);
SELECT pg_sleep_until(closes_at + interval '10 ms') FROM coord.auction_state WHERE auction = 'ad-3';
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-3', 'bidder-i', 12)$$);
SELECT high_bidder, high_amount, state, closed_at = closes_at AS closed_at_closes_at
FROM coord.auctions WHERE auction = 'ad-3';

-- Privileges: coord_user may open and bid; before closes_at only the
-- opening role (or coord_admin) closes; after, anyone.
CREATE ROLE regress_auc_a LOGIN;
CREATE ROLE regress_auc_b LOGIN;
CREATE ROLE regress_auc_ops LOGIN;
CREATE ROLE regress_auc_nobody LOGIN;
GRANT coord_user TO regress_auc_a, regress_auc_b;
GRANT coord_admin TO regress_auc_ops;
SET ROLE regress_auc_nobody;
SELECT regress.error_of($$SELECT coord.auction_open('ad-x', now() + interval '1 hour')$$);
SELECT regress.error_of($$SELECT * FROM coord.bid('ad-3', 'x', 1)$$);
SELECT regress.error_of($$SELECT * FROM coord.auction_close('ad-3')$$);
SELECT regress.error_of($$SELECT * FROM coord.auctions$$);
RESET ROLE;
SET ROLE regress_auc_b;
SELECT * FROM coord.auction_close('ad-3');
RESET ROLE;
SET ROLE regress_auc_a;
SELECT coord.auction_open('ad-4', now() + interval '1 hour');
SELECT coord.auction_open('ad-5', now() + interval '1 hour');
RESET ROLE;
SET ROLE regress_auc_b;
SELECT * FROM coord.bid('ad-4', 'bidder-b', 3);
SELECT regress.error_of($$SELECT * FROM coord.auction_close('ad-4')$$);
-- Role b cannot reopen a's auction either (a different role: 42710).
SELECT regress.error_of($$SELECT coord.auction_open('ad-4', now() + interval '1 hour')$$);
SELECT regress.error_of($$UPDATE coord.auction_state SET high_bidder = 'b'$$);
SELECT auction, high_bidder, high_amount, state FROM coord.auctions WHERE auction = 'ad-4';
RESET ROLE;
SET ROLE regress_auc_a;
SELECT * FROM coord.auction_close('ad-4');
RESET ROLE;
SET ROLE regress_auc_ops;
SELECT * FROM coord.auction_close('ad-5');
RESET ROLE;
SELECT auction, opened_by, high_bidder, bids, state FROM coord.auctions ORDER BY auction;

DELETE FROM coord.auction_state;
DROP ROLE regress_auc_a, regress_auc_b, regress_auc_ops, regress_auc_nobody;
