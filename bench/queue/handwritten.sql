-- The queue a user would write by hand instead of pg_coord's: one table,
-- a partial index of pending rows, claim with FOR UPDATE SKIP LOCKED, a
-- claimed_by/attempts pair as a weak claim check, completed rows kept.
CREATE TABLE hand_queue (
    id           bigserial PRIMARY KEY,
    queue        text NOT NULL,
    payload      jsonb NOT NULL,
    state        text NOT NULL DEFAULT 'pending',
    priority     integer NOT NULL DEFAULT 0,
    run_at       timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    locked_by    text,
    locked_until timestamptz,
    finished_at  timestamptz
);
CREATE INDEX hand_queue_due ON hand_queue (queue, priority DESC, run_at, id) WHERE state = 'pending';
