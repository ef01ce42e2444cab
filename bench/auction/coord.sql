-- pg_coord: bid 0.01 above the high bid this client last saw. The answer
-- carries the high bid after the call, so a bid that did not lead is
-- followed at once by a higher one, without another read.
SELECT high_amount AS seen FROM coord.bid('bench', 'client-' || :client_id, :seen + 0.01) \gset
