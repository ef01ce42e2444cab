-- The fuzz test's fixtures (schema fuzz_ctx, outside coord): holdings and
-- records for the fuzzed calls' other arguments, kept current before every
-- case; the checksum of every coord table is fault_check.checksum().

CREATE SCHEMA fuzz_ctx;
\ir ../checksum.sql

-- The queue the fuzzed calls name (a case may alter or drop it: then 42704).
SELECT coord.queue_create('fuzz-queue');

CREATE TABLE fuzz_ctx.names (what text PRIMARY KEY, n integer NOT NULL DEFAULT 0);
INSERT INTO fuzz_ctx.names VALUES ('auction', 0), ('shard', 0);

-- Makes sure every fixture exists (a case before may have released, settled,
-- completed, advanced or closed it) and returns the values the cases use.
CREATE FUNCTION fuzz_ctx.prepare(
    OUT lease_token bigint, OUT task_id bigint, OUT task_token bigint, OUT dead_task_id bigint,
    OUT entry_id bigint, OUT shard text, OUT migration_id bigint, OUT epoch bigint,
    OUT term bigint, OUT reg_version bigint, OUT auction text, OUT closes_at text,
    OUT checksum text, OUT postmaster_pid integer)
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    -- Leases held by fuzz-owner (nobody else: no call of a case waits).
    IF (SELECT count(*) FROM coord.leases l
         WHERE l.name IN ('fuzz:lease', 'fuzz:all1', 'fuzz:all2') AND l.owner = 'fuzz-owner'
           AND l.expires_at > clock_timestamp() + interval '1 minute') < 3 THEN
        PERFORM coord.force_release(l.name) FROM coord.leases l
         WHERE l.name IN ('fuzz:lease', 'fuzz:all1', 'fuzz:all2') AND (l.owner <> 'fuzz-owner' OR l.expired);
        PERFORM coord.acquire('fuzz:lease', 'fuzz-owner', '1 hour');
        PERFORM coord.acquire('fuzz:all1', 'fuzz-owner', '1 hour');
        PERFORM coord.acquire('fuzz:all2', 'fuzz-owner', '1 hour');
    END IF;
    SELECT l.token INTO lease_token FROM coord.leases l WHERE l.name = 'fuzz:lease';

    -- A task claimed by fuzz-worker, and a dead one (queues are explicit).
    PERFORM coord.queue_create('fuzz-ctx');
    PERFORM coord.queue_create('fuzz-dead');
    SELECT t.id, t.token INTO task_id, task_token FROM coord.tasks t
     WHERE t.queue = 'fuzz-ctx' AND t.state = 'processing' AND t.worker = 'fuzz-worker'
       AND t.lease_expires_at > clock_timestamp() + interval '1 minute'
     ORDER BY t.id LIMIT 1;
    IF task_id IS NULL THEN
        PERFORM coord.enqueue('fuzz-ctx', '{"fixture": true}');
        SELECT c.task_id, c.token INTO task_id, task_token FROM coord.claim('fuzz-ctx', 'fuzz-worker', '1 hour') c;
    END IF;
    SELECT t.id INTO dead_task_id FROM coord.tasks t WHERE t.queue = 'fuzz-dead' AND t.state = 'dead' LIMIT 1;
    IF dead_task_id IS NULL THEN
        PERFORM coord.enqueue('fuzz-dead', '{}', max_attempts => 1);
        PERFORM coord.fail(c.task_id, c.token, 'fixture') FROM coord.claim('fuzz-dead', 'fuzz-worker') c;
        SELECT t.id INTO dead_task_id FROM coord.tasks t WHERE t.queue = 'fuzz-dead' AND t.state = 'dead' LIMIT 1;
    END IF;

    -- A pending ledger entry.
    SELECT e.entry_id INTO entry_id FROM coord.ledger_entries e
     WHERE e.cycle_id = 'fuzz-ctx' AND e.status = 'pending' LIMIT 1;
    IF entry_id IS NULL THEN
        SELECT p.entry_id INTO entry_id FROM coord.ledger_post('fuzz-ctx', 'acct', 1) p
         WHERE p.status = 'pending';
        IF entry_id IS NULL THEN  -- the default key's entry is settled: a new key
            SELECT p.entry_id INTO entry_id
              FROM coord.ledger_post('fuzz-ctx', 'acct', 1, idempotency_key => 'fuzz-ctx-' || clock_timestamp()) p;
        END IF;
    END IF;

    -- A shard in an active migration (copying).
    SELECT s.shard, s.migration_id, s.epoch INTO shard, migration_id, epoch FROM coord.shard_state s
      JOIN coord.shard_migration_state m ON m.id = s.migration_id
     WHERE s.shard LIKE 'fuzz-shard-%' AND m.phase = 'copying'
     ORDER BY s.shard DESC LIMIT 1;
    IF shard IS NULL THEN
        UPDATE fuzz_ctx.names SET n = names.n + 1 WHERE what = 'shard' RETURNING names.n INTO n;
        shard := 'fuzz-shard-' || n;
        PERFORM coord.shard_add(shard, 'fuzz-node');
        migration_id := coord.migration_start(shard, 'fuzz-node2');
        SELECT s.epoch INTO epoch FROM coord.shard_state s WHERE s.shard = prepare.shard;
    END IF;

    -- A term of fuzz-election led by fuzz-cand.
    SELECT e.term INTO term FROM coord.elections e
     WHERE e.election = 'fuzz-election' AND e.leader = 'fuzz-cand' AND e.state = 'leading';
    IF term IS NULL THEN
        PERFORM coord.resign('fuzz-election', e.term) FROM coord.elections e
         WHERE e.election = 'fuzz-election' AND e.state = 'leading';
        term := coord.campaign('fuzz-election', 'fuzz-cand', '1 hour');
    END IF;

    -- A register key and its version.
    SELECT g.version INTO reg_version FROM coord.register_get('fuzz-key') g;
    IF reg_version IS NULL THEN
        SELECT c.version INTO reg_version FROM coord.register_cas('fuzz-key', 0, '{}') c;
    END IF;

    -- An open auction.
    SELECT a.auction, a.closes_at INTO auction, closes_at FROM coord.auctions a
     WHERE a.auction LIKE 'fuzz-auction-%' AND a.state = 'open' ORDER BY a.opened_at DESC LIMIT 1;
    IF auction IS NULL THEN
        UPDATE fuzz_ctx.names SET n = names.n + 1 WHERE what = 'auction' RETURNING names.n INTO n;
        auction := 'fuzz-auction-' || n;
        closes_at := (clock_timestamp() + interval '1 day')::text;
        PERFORM coord.auction_open(auction, closes_at::timestamptz, 0);
    END IF;

    checksum := fault_check.checksum();
    postmaster_pid := split_part(pg_read_file('postmaster.pid'), E'\n', 1)::integer;
END $$;
