-- Collaborative documents (a durable per-document update log with causal
-- delivery, snapshots and pruning) and whiteboards (a last-writer-wins map of
-- shapes and fields). Any coord_user may append to and read every document
-- and board: they are not per role (like queues); the role is recorded with
-- each update and snapshot.

CREATE TABLE coord.doc_updates (
    doc         text COLLATE "C" NOT NULL,
    client      text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,          -- 1, 2, 3 ... per (doc, client)
    position    bigint,                   -- from coord.doc_position once delivered; NULL while held
    deps        jsonb,                    -- the state vector it depends on, as given
    payload     bytea NOT NULL,           -- opaque (a Yjs or Automerge update)
    appended_by regrole NOT NULL,
    appended_at timestamptz NOT NULL,
    PRIMARY KEY (doc, client, seq)
);
CREATE UNIQUE INDEX doc_updates_position ON coord.doc_updates (doc, position);
CREATE INDEX doc_updates_held ON coord.doc_updates (doc) WHERE position IS NULL;
COMMENT ON TABLE coord.doc_updates IS
    'Every stored update of every document: delivered (with a position, which orders each update '
    'after its dependencies) or held (position NULL) until its dependencies are delivered. Written '
    'only through coord.doc_append; covered updates are pruned by the background worker.';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_updates', '');

CREATE SEQUENCE coord.doc_position;
COMMENT ON SEQUENCE coord.doc_position IS
    'Positions of delivered document updates (one sequence for every document).';

CREATE TABLE coord.doc_clients (
    doc      text COLLATE "C" NOT NULL,
    client   text COLLATE "C" NOT NULL,
    first_at timestamptz NOT NULL,
    PRIMARY KEY (doc, client)
);
COMMENT ON TABLE coord.doc_clients IS
    'The clients that ever appended to a document (at most 10000 per document), and when first.';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_clients', '');

CREATE TABLE coord.doc_snapshots (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    doc          text COLLATE "C" NOT NULL,
    state_vector jsonb NOT NULL,          -- what the snapshot covers
    covers       bigint NOT NULL,         -- the number of updates it covers
    snapshot     bytea NOT NULL,
    created_by   regrole NOT NULL,
    created_at   timestamptz NOT NULL
);
CREATE INDEX doc_snapshots_doc ON coord.doc_snapshots (doc, id);
COMMENT ON TABLE coord.doc_snapshots IS
    'Merged document states uploaded by clients (coord.doc_snapshot); each covers the one before it. '
    'The newest is what coord.doc_load hands a joining client.';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_snapshots', '');

CREATE TABLE coord.doc_pruned (
    doc              text COLLATE "C" PRIMARY KEY,
    vector           jsonb NOT NULL,      -- per client, the highest seq pruned
    through_snapshot bigint NOT NULL      -- the snapshot (coord.doc_snapshots.id) last pruned by
);
COMMENT ON TABLE coord.doc_pruned IS
    'Per document and client, the highest seq the background worker pruned: coord.doc_since refuses '
    'a state vector behind it (55000; join with coord.doc_load); and the snapshot it pruned by last '
    '(each snapshot is pruned by once).';
SELECT pg_catalog.pg_extension_config_dump('coord.doc_pruned', '');

CREATE UNLOGGED TABLE coord.doc_announce (
    doc      text COLLATE "C" NOT NULL,
    position bigint NOT NULL
);
COMMENT ON TABLE coord.doc_announce IS
    'Deliveries not yet announced: the background worker sends one NOTIFY coord_doc per document '
    'for them each sweep and deletes them. Unlogged: an announcement lost in a crash is only a '
    'missed wake-up (clients catch up with coord.doc_since).';

CREATE FUNCTION coord.doc_append(doc text, client text, seq bigint, payload bytea, deps jsonb DEFAULT NULL)
RETURNS TABLE(accepted boolean, "position" bigint, state text)
AS 'MODULE_PATHNAME', 'coord_doc_append'
LANGUAGE C VOLATILE
ROWS 1;
COMMENT ON FUNCTION coord.doc_append(text, text, bigint, bytea, jsonb) IS
    'Store update `seq` (1, 2, 3 ... per doc and client) of `client` in document `doc`. A resend of '
    'a stored seq with the same payload changes nothing (accepted = false, same position); another '
    'payload is PC002; a seq beyond the next is PC003 naming the expected seq. The update depends on '
    '`deps` ({"client": seq, ...}) and on its client''s previous seq: until those are delivered it '
    'is held (state = ''held'', position NULL); then it is delivered with a position after theirs. '
    'payload: at most 1 MiB.';

CREATE FUNCTION coord.doc_snapshot(doc text, state_vector jsonb, snapshot bytea)
RETURNS bigint
AS 'MODULE_PATHNAME', 'coord_doc_snapshot'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.doc_snapshot(text, jsonb, bytea) IS
    'Upload a merged state of `doc` covering `state_vector` (every update it names must be delivered, '
    'and it must cover the previous snapshot). Returns the snapshot''s id. The updates it covers '
    'become prunable after coord.doc_retention. snapshot: at most 256 MiB.';

-- The readers: SQL, run as the extension's owner with a pinned search_path.
CREATE FUNCTION coord.doc_require_vector(v jsonb, param text)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad text;
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', param USING ERRCODE = '22004';
    END IF;
    IF jsonb_typeof(v) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object {"client": seq, ...}', param USING ERRCODE = '22023';
    END IF;
    SELECT e.key INTO bad FROM jsonb_each(v) e
    WHERE jsonb_typeof(e.value) <> 'number' OR e.value::text !~ '^[0-9]+$'
       OR length(e.value::text) > 18 OR octet_length(e.key) NOT BETWEEN 1 AND 256
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%: the seq of client "%" must be an integer >= 0', param, bad
            USING ERRCODE = '22023';
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION coord.doc_require_vector(jsonb, text) IS
    'Internal: checks a state vector argument (22004 / 22023). Not granted to anyone.';

CREATE FUNCTION coord.doc_require_name(v text, param text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF v IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', param USING ERRCODE = '22004';
    END IF;
    IF octet_length(v) NOT BETWEEN 1 AND 256 THEN
        RAISE EXCEPTION '% must have 1 to 256 bytes', param USING ERRCODE = '22023';
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION coord.doc_require_name(text, text) IS
    'Internal: checks a document or board name argument (22004 / 22023). Not granted to anyone.';

CREATE FUNCTION coord.doc_state_vector(doc text)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE(jsonb_object_agg(x.client, x.seq), '{}')
    FROM (SELECT u.client, max(u.seq) AS seq FROM coord.doc_updates u
          WHERE u.doc = coord.doc_require_name($1, 'doc') AND u.position IS NOT NULL
          GROUP BY u.client) x
$$;
COMMENT ON FUNCTION coord.doc_state_vector(text) IS
    'The state vector of `doc`: {"client": last delivered seq, ...} ({} for an unknown document).';

-- What a reader with `have` lacks, in position order. A reader that has
-- nothing reads the log in position order; one that has something (a
-- snapshot's vector) reads, per client, only the seqs after its own
-- (primary-key ranges: OFFSET 0 keeps the planner from joining the whole
-- log instead), so a join after a snapshot reads what it lacks, not the
-- whole log. `have` is read once (jsonb_each_text): a snapshot's vector is
-- stored compressed, and `have ->> client` per client would decompress it
-- once per client.
CREATE FUNCTION coord.doc_updates_after(d text, have jsonb)
RETURNS TABLE(client text, seq bigint, "position" bigint, payload bytea)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM jsonb_each_text(have) e WHERE e.value::bigint > 0) THEN
        RETURN QUERY
            SELECT u.client::text, u.seq, u.position, u.payload FROM coord.doc_updates u
            WHERE u.doc = d AND u.position IS NOT NULL
            ORDER BY u.position;
    ELSE
        RETURN QUERY
            SELECT u.client::text, u.seq, u.position, u.payload
            FROM coord.doc_clients c
            LEFT JOIN jsonb_each_text(have) h ON h.key = c.client
            CROSS JOIN LATERAL (
                SELECT u.client, u.seq, u.position, u.payload FROM coord.doc_updates u
                WHERE u.doc = d AND u.client = c.client
                  AND u.seq > COALESCE(h.value::bigint, 0) AND u.position IS NOT NULL
                OFFSET 0) u
            WHERE c.doc = d
            ORDER BY u.position;
    END IF;
END
$$;
COMMENT ON FUNCTION coord.doc_updates_after(text, jsonb) IS
    'Internal: the delivered updates of document `d` after state vector `have`, in position order '
    '(coord.doc_since, coord.doc_load). Not granted to anyone.';

CREATE FUNCTION coord.doc_since(doc text, state_vector jsonb DEFAULT '{}')
RETURNS TABLE(client text, seq bigint, "position" bigint, payload bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    d text := coord.doc_require_name(doc, 'doc');
    have jsonb := coord.doc_require_vector(state_vector, 'state_vector');
    behind text;
BEGIN
    SELECT v.key INTO behind FROM coord.doc_pruned p, jsonb_each_text(p.vector) v
    WHERE p.doc = d AND v.value::bigint > COALESCE((have ->> v.key)::bigint, 0) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'updates of client "%" in document "%" that state_vector lacks were pruned', behind, d
            USING ERRCODE = '55000', HINT = 'Join again with coord.doc_load.';
    END IF;
    RETURN QUERY SELECT * FROM coord.doc_updates_after(d, have);
END
$$;
COMMENT ON FUNCTION coord.doc_since(text, jsonb) IS
    'Every delivered update of `doc` that a reader with `state_vector` lacks, in position order (an '
    'update comes after everything it depends on). 55000 when some of them were pruned: join with '
    'coord.doc_load.';

CREATE FUNCTION coord.doc_load(doc text)
RETURNS TABLE(snapshot bytea, snapshot_vector jsonb, client text, seq bigint, "position" bigint, payload bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    d text := coord.doc_require_name(doc, 'doc');
    snap_id bigint;
    have jsonb;
BEGIN
    -- The snapshot itself is not read into a variable (that would detoast
    -- and copy it here): the row goes to the result as stored, and is read
    -- once, when it is sent to the client.
    SELECT s.id, s.state_vector INTO snap_id, have FROM coord.doc_snapshots s
    WHERE s.doc = d ORDER BY s.id DESC LIMIT 1;
    IF FOUND THEN
        RETURN QUERY SELECT s.snapshot, s.state_vector, NULL::text, NULL::bigint, NULL::bigint, NULL::bytea
                     FROM coord.doc_snapshots s WHERE s.id = snap_id;
    ELSE
        have := '{}';
    END IF;
    RETURN QUERY
        SELECT NULL::bytea, NULL::jsonb, u.client, u.seq, u.position, u.payload
        FROM coord.doc_updates_after(d, have) u;
END
$$;
COMMENT ON FUNCTION coord.doc_load(text) IS
    'What a client joining `doc` needs: a first row with the newest snapshot and its state vector '
    '(when there is one; update columns NULL), then every delivered update after it, in position '
    'order (snapshot columns NULL).';

CREATE VIEW coord.docs AS
SELECT u.doc::text AS doc,
       (SELECT count(*) FROM coord.doc_clients c WHERE c.doc = u.doc) AS clients,
       count(*) AS updates,
       count(*) FILTER (WHERE u.position IS NULL) AS held,
       sum(octet_length(u.payload)) AS bytes,
       (SELECT max(s.created_at) FROM coord.doc_snapshots s WHERE s.doc = u.doc) AS last_snapshot_at,
       max(u.position) AS last_position
FROM coord.doc_updates u
GROUP BY u.doc;
COMMENT ON VIEW coord.docs IS
    'One row per document: clients that ever appended, updates stored (delivered and held), held '
    'updates, payload bytes stored, when the newest snapshot was uploaded and the last position.';

-- Whiteboards.
CREATE TABLE coord.shapes (
    board      text COLLATE "C" NOT NULL,
    shape      text COLLATE "C" NOT NULL,
    fields     jsonb NOT NULL,           -- the merged fields ({} once deleted)
    writers    jsonb NOT NULL,           -- per field, its writer: [lamport, "client"]
    deleted    boolean NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (board, shape)
);
COMMENT ON TABLE coord.shapes IS
    'Every shape of every whiteboard: its fields merged by last writer wins (Lamport time, then the '
    'smaller client id), each field''s writer, and whether it was deleted (final). Written only '
    'through coord.shape_apply, coord.shape_delete and coord.shape_apply_batch.';
SELECT pg_catalog.pg_extension_config_dump('coord.shapes', '');

CREATE FUNCTION coord.shape_apply(board text, shape text, client text, lamport bigint, fields jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'coord_shape_apply'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.shape_apply(text, text, text, bigint, jsonb) IS
    'Merge `fields` into `shape` of `board` field by field: a field takes the new value when '
    '(lamport, client) orders after its current writer (a higher Lamport time wins, equal times go '
    'to the smaller client id). Fields not named are untouched. Returns the merged fields, NULL '
    'when the shape is deleted (a deleted shape ignores writes). fields: an object of at most 256 '
    'fields and 64 KiB.';

CREATE FUNCTION coord.shape_delete(board text, shape text, client text, lamport bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'coord_shape_delete'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.shape_delete(text, text, text, bigint) IS
    'Delete `shape` of `board`: true for the first delete, false (already deleted) for every later '
    'one. A deleted shape has no fields and ignores later writes.';

CREATE FUNCTION coord.shape_apply_batch(board text, ops jsonb)
RETURNS int
AS 'MODULE_PATHNAME', 'coord_shape_apply_batch'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION coord.shape_apply_batch(text, jsonb) IS
    'Apply a client''s batch atomically: ops is an array of at most 1000 '
    '{"shape", "client", "lamport", "fields"} or {"shape", "client", "lamport", "delete": true}; '
    'a bad op refuses the whole batch (22023). Returns how many ops changed the board.';

CREATE FUNCTION coord.board(board text)
RETURNS TABLE(shape text, fields jsonb, deleted boolean)
AS 'MODULE_PATHNAME', 'coord_board'
LANGUAGE C STABLE;
COMMENT ON FUNCTION coord.board(text) IS
    'Every shape of `board` in name order: its merged fields (NULL once deleted) and whether it is deleted.';

-- Self-contained (this part also ships in an upgrade script): nothing PUBLIC.
REVOKE ALL ON coord.doc_updates, coord.doc_clients, coord.doc_snapshots, coord.doc_pruned,
    coord.doc_announce, coord.shapes, coord.docs FROM PUBLIC;
REVOKE ALL ON SEQUENCE coord.doc_position, coord.doc_snapshots_id_seq FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION coord.doc_append(text, text, bigint, bytea, jsonb),
    coord.doc_snapshot(text, jsonb, bytea), coord.doc_require_vector(jsonb, text),
    coord.doc_require_name(text, text), coord.doc_updates_after(text, jsonb),
    coord.doc_state_vector(text), coord.doc_since(text, jsonb),
    coord.doc_load(text), coord.shape_apply(text, text, text, bigint, jsonb),
    coord.shape_delete(text, text, text, bigint), coord.shape_apply_batch(text, jsonb),
    coord.board(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coord.doc_append(text, text, bigint, bytea, jsonb),
    coord.doc_snapshot(text, jsonb, bytea), coord.doc_state_vector(text), coord.doc_since(text, jsonb),
    coord.doc_load(text), coord.shape_apply(text, text, text, bigint, jsonb),
    coord.shape_delete(text, text, text, bigint), coord.shape_apply_batch(text, jsonb),
    coord.board(text) TO coord_user;
GRANT SELECT ON coord.docs TO coord_user;
