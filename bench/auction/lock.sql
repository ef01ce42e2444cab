-- The lock per auction users have today: lock the auction row, compare the
-- bid (0.01 above the high bid this client last saw) with the high bid,
-- write it if it is higher, commit. The same bids as coord.sql.
BEGIN;
SELECT high_amount AS locked, :seen + 0.01 AS mine, greatest(high_amount, :seen + 0.01) AS seen
FROM bench_auction WHERE auction = 'bench' AND closes_at > clock_timestamp() FOR UPDATE \gset
UPDATE bench_auction SET high_bidder = 'client-' || :client_id, high_amount = :mine,
       high_bid_at = clock_timestamp(), bids = bids + 1
WHERE auction = 'bench' AND high_amount < :mine;
COMMIT;
