-- Collaborative documents and whiteboards: every function and every error path.

-- A first update: delivered at once; a resend of it changes nothing.
SELECT * FROM coord.doc_append('doc1', 'alice', 1, '\x01');
SELECT * FROM coord.doc_append('doc1', 'alice', 1, '\x01');
-- The same seq with another payload (PC002), a gap (PC003 naming the next seq).
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 1, '\x02')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 3, '\x03')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'carol', 2, '\x03')$$);
SELECT client, seq, position, deps, payload FROM coord.doc_updates ORDER BY position;

-- An update whose dependency is not stored yet is held, not delivered ...
SELECT * FROM coord.doc_append('doc1', 'bob', 1, '\xb1', '{"alice": 2}');
-- ... and so is the next update of its client (it depends on the held one).
SELECT * FROM coord.doc_append('doc1', 'bob', 2, '\xb2');
SELECT * FROM coord.doc_append('doc1', 'bob', 2, '\xb2');
SELECT coord.doc_state_vector('doc1');
SELECT * FROM coord.doc_since('doc1');
-- The dependency arrives: both are delivered after it, in dependency order.
SELECT * FROM coord.doc_append('doc1', 'alice', 2, '\x02');
SELECT coord.doc_state_vector('doc1');
SELECT * FROM coord.doc_since('doc1');
SELECT * FROM coord.doc_since('doc1', '{"alice": 2}');
SELECT * FROM coord.doc_since('doc1', '{"alice": 1, "bob": 2, "zed": 5}');
-- A resend of a delivered update answers its position.
SELECT * FROM coord.doc_append('doc1', 'bob', 1, '\xb1', '{"alice": 2}');
-- An unknown document is empty.
SELECT coord.doc_state_vector('nothing'), count(*) AS updates FROM coord.doc_since('nothing');
SELECT doc, clients, updates, held, bytes, last_snapshot_at, last_position FROM coord.docs;

-- An append is part of the caller's transaction.
BEGIN;
SELECT accepted, state FROM coord.doc_append('doc1', 'carol', 1, '\xc1');
ROLLBACK;
SELECT coord.doc_state_vector('doc1');

-- Snapshots: a client uploads a merged state covering a state vector;
-- doc_load hands a joining client the newest one and the updates after it.
SELECT count(*) AS rows, bool_and(snapshot IS NULL) AS no_snapshot FROM coord.doc_load('doc1');
SELECT coord.doc_snapshot('doc1', '{"alice": 2, "bob": 1}', '\x5a') > 0 AS stored;
SELECT * FROM coord.doc_append('doc1', 'alice', 3, '\x03');
SELECT * FROM coord.doc_load('doc1');
SELECT doc, clients, updates, held, last_snapshot_at IS NOT NULL AS snapshotted FROM coord.docs;

-- Bad arguments: a clear SQLSTATE, and nothing changes.
CREATE TEMP TABLE before AS SELECT * FROM coord.doc_updates;
SELECT regress.error_of($$SELECT * FROM coord.doc_append(NULL, 'alice', 4, '\x04')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('', 'alice', 4, '\x04')$$);
SELECT regress.error_of(format($$SELECT * FROM coord.doc_append(%L, 'alice', 1, '\x04')$$, repeat('d', 257)));
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', NULL, 4, '\x04')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', '', 4, '\x04')$$);
SELECT regress.error_of(format($$SELECT * FROM coord.doc_append('doc1', %L, 1, '\x04')$$, repeat('c', 257)));
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', NULL, '\x04')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 0, '\x04')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', -1, '\x04')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, decode(repeat('00', 1048577), 'hex'))$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, '\x04', '[1]')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, '\x04', '{"bob": "1"}')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, '\x04', '{"bob": -1}')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, '\x04', '{"bob": 1.5}')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, '\x04', '{"": 1}')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, '\x04', '{"alice": 4}')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot(NULL, '{"alice": 1}', '\x00')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot('doc1', NULL, '\x00')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot('doc1', '{"alice": 1}', NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot('doc1', '{}', '\x00')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot('doc1', '"x"', '\x00')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot('doc1', '{"alice": 9}', '\x00')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot('doc1', '{"nobody": 1}', '\x00')$$);
SELECT regress.error_of($$SELECT coord.doc_state_vector(NULL)$$);
SELECT regress.error_of($$SELECT coord.doc_state_vector('')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_since(NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_since('doc1', NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_since('doc1', '[]')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_since('doc1', '{"alice": "x"}')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_since('doc1', '{"alice": -2}')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_load(NULL)$$);
SELECT regress.error_of(format($$SELECT * FROM coord.doc_load(%L)$$, repeat('d', 257)));
-- A write in a READ ONLY transaction.
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc1', 'alice', 4, '\x04')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_snapshot('doc1', '{"alice": 3}', '\x00')$$);
ROLLBACK;
SELECT count(*) AS changed FROM (
    (SELECT * FROM coord.doc_updates EXCEPT SELECT * FROM before)
    UNION ALL (SELECT * FROM before EXCEPT SELECT * FROM coord.doc_updates)) d;
SELECT count(*) AS snapshots FROM coord.doc_snapshots;
DROP TABLE before;
-- The limits themselves are accepted.
SELECT accepted, state FROM coord.doc_append(repeat('d', 256), repeat('c', 256), 1, decode(repeat('00', 1048576), 'hex'));
SELECT octet_length(payload) FROM coord.doc_since(repeat('d', 256));

-- Pruning (the background worker's step, here by coord.sweep()): covered
-- updates older than coord.doc_retention go, each client's last covered one
-- stays; a reader behind what was pruned is told to join again (55000).
SET coord.doc_retention = 0;
SELECT (coord.sweep() ->> 'doc_updates_pruned')::int AS pruned;
RESET coord.doc_retention;
SELECT client, seq FROM coord.doc_updates WHERE doc = 'doc1' ORDER BY position;
SELECT vector FROM coord.doc_pruned WHERE doc = 'doc1';
SELECT regress.error_of($$SELECT * FROM coord.doc_since('doc1')$$);
SELECT client, seq, payload FROM coord.doc_since('doc1', '{"alice": 2, "bob": 1}');
SELECT snapshot, snapshot_vector, client, seq, payload FROM coord.doc_load('doc1');
-- A resend of a pruned update is still a resend.
SELECT accepted FROM coord.doc_append('doc1', 'alice', 1, '\x01');
-- Deliveries are announced by the sweep (NOTIFY coord_doc), then forgotten.
SELECT count(*) AS unannounced FROM coord.doc_announce;

-- Whiteboards. A move and a resize of one shape commute.
SELECT coord.shape_apply('b1', 'rect', 'alice', 1, '{"x": 10, "y": 20}');
SELECT coord.shape_apply('b1', 'rect', 'bob', 1, '{"w": 100, "h": 50}');
-- Two concurrent moves (equal Lamport times): the smaller client id wins,
-- whichever arrives first.
SELECT coord.shape_apply('b1', 'rect', 'bob', 2, '{"x": 30}');
SELECT coord.shape_apply('b1', 'rect', 'alice', 2, '{"x": 40}');
SELECT coord.shape_apply('b1', 'rect', 'bob', 2, '{"x": 30}');
-- An older write loses; a newer one wins.
SELECT coord.shape_apply('b1', 'rect', 'alice', 1, '{"x": 0, "color": "red"}');
SELECT coord.shape_apply('b1', 'rect', 'zed', 5, '{"y": 99}');
SELECT shape, fields, writers, deleted FROM coord.shapes ORDER BY shape;
-- A delete: true once, false for every later one; writes are then ignored.
SELECT coord.shape_delete('b1', 'rect', 'alice', 6);
SELECT coord.shape_delete('b1', 'rect', 'bob', 6);
SELECT coord.shape_apply('b1', 'rect', 'alice', 9, '{"x": 1}');
-- A delete of a shape never written is a first delete.
SELECT coord.shape_delete('b1', 'ghost', 'alice', 1);
SELECT coord.shape_delete('b1', 'ghost', 'alice', 1);
-- A batch is applied atomically; it counts the ops that changed the board.
SELECT coord.shape_apply_batch('b1', $$[
    {"shape": "circle", "client": "alice", "lamport": 3, "fields": {"x": 1, "r": 5}},
    {"shape": "circle", "client": "alice", "lamport": 4, "fields": {"x": 2}},
    {"shape": "circle", "client": "alice", "lamport": 2, "fields": {"x": 0}},
    {"shape": "line", "client": "alice", "lamport": 4, "fields": {"from": [0, 0], "to": [1, 1]}},
    {"shape": "rect", "client": "alice", "lamport": 10, "delete": true},
    {"shape": "tri", "client": "alice", "lamport": 4, "delete": true}]$$);
SELECT coord.shape_apply_batch('b1', '[]');
SELECT * FROM coord.board('b1');
SELECT * FROM coord.board('empty');

-- Bad arguments: a clear SQLSTATE, and nothing changes.
CREATE TEMP TABLE before AS SELECT * FROM coord.shapes;
SELECT regress.error_of($$SELECT coord.shape_apply(NULL, 's', 'c', 1, '{"x": 1}')$$);
SELECT regress.error_of($$SELECT coord.shape_apply('', 's', 'c', 1, '{"x": 1}')$$);
SELECT regress.error_of(format($$SELECT coord.shape_apply(%L, 's', 'c', 1, '{"x": 1}')$$, repeat('b', 257)));
SELECT regress.error_of($$SELECT coord.shape_apply('b1', NULL, 'c', 1, '{"x": 1}')$$);
SELECT regress.error_of(format($$SELECT coord.shape_apply('b1', %L, 'c', 1, '{"x": 1}')$$, repeat('s', 257)));
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', NULL, 1, '{"x": 1}')$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', '', 1, '{"x": 1}')$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', NULL, '{"x": 1}')$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', -1, '{"x": 1}')$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', 1, NULL)$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', 1, '[1]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', 1, '{"": 1}')$$);
SELECT regress.error_of(format($$SELECT coord.shape_apply('b1', 's', 'c', 1, jsonb_build_object(%L, 1))$$, repeat('f', 257)));
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', 1, (SELECT jsonb_object_agg('f' || i, i) FROM generate_series(1, 257) i))$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', 1, jsonb_build_object('x', repeat('v', 70000)))$$);
-- 200 + 100 fields: each write is within the limit, the merged shape is not.
SELECT (SELECT count(*) FROM jsonb_object_keys(coord.shape_apply('b1', 'big', 'c', 1, (SELECT jsonb_object_agg('f' || i, i) FROM generate_series(1, 200) i)))) AS fields;
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 'big', 'c', 1, (SELECT jsonb_object_agg('g' || i, i) FROM generate_series(1, 100) i))$$);
DELETE FROM coord.shapes WHERE shape = 'big';
SELECT regress.error_of($$SELECT coord.shape_delete(NULL, 's', 'c', 1)$$);
SELECT regress.error_of($$SELECT coord.shape_delete('b1', '', 'c', 1)$$);
SELECT regress.error_of($$SELECT coord.shape_delete('b1', 's', NULL, 1)$$);
SELECT regress.error_of($$SELECT coord.shape_delete('b1', 's', 'c', NULL)$$);
SELECT regress.error_of($$SELECT coord.shape_delete('b1', 's', 'c', -5)$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch(NULL, '[]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', NULL)$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '{}')$$);
-- One bad op refuses the whole batch (the good op before it too).
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1, "fields": {"x": 1}}, 7]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1, "fields": {"x": 1}}, {"client": "c", "lamport": 1, "fields": {}}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "lamport": 1, "fields": {}}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "fields": {}}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": -1, "fields": {}}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1.5, "fields": {}}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1, "fields": [1]}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1, "delete": false}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1, "delete": true, "fields": {}}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[{"shape": "s", "client": "c", "lamport": 1, "fields": {}, "extra": 1}]')$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', (SELECT jsonb_agg(jsonb_build_object('shape', 's', 'client', 'c', 'lamport', i, 'fields', '{}'::jsonb)) FROM generate_series(1, 1001) i))$$);
SELECT regress.error_of($$SELECT * FROM coord.board(NULL)$$);
SELECT regress.error_of($$SELECT * FROM coord.board('')$$);
BEGIN READ ONLY;
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', 1, '{"x": 1}')$$);
SELECT regress.error_of($$SELECT coord.shape_delete('b1', 'circle', 'c', 100)$$);
ROLLBACK;
SELECT count(*) AS changed FROM (
    (SELECT * FROM coord.shapes EXCEPT SELECT * FROM before)
    UNION ALL (SELECT * FROM before EXCEPT SELECT * FROM coord.shapes)) d;
DROP TABLE before;

-- Privileges: any coord_user may append to and read every document and
-- board (documents are shared, like queues; the role is recorded with each
-- update and snapshot); without coord_user nothing (42501); nobody writes
-- or reads the tables directly.
CREATE ROLE regress_collab_user LOGIN;
CREATE ROLE regress_collab_nobody LOGIN;
GRANT coord_user TO regress_collab_user;
SET ROLE regress_collab_nobody;
SELECT regress.error_of($$SELECT * FROM coord.doc_append('doc2', 'x', 1, '\x01')$$);
SELECT regress.error_of($$SELECT coord.doc_state_vector('doc1')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_since('doc1')$$);
SELECT regress.error_of($$SELECT * FROM coord.doc_load('doc1')$$);
SELECT regress.error_of($$SELECT coord.doc_snapshot('doc1', '{"alice": 1}', '\x00')$$);
SELECT regress.error_of($$SELECT * FROM coord.docs$$);
SELECT regress.error_of($$SELECT coord.shape_apply('b1', 's', 'c', 1, '{"x": 1}')$$);
SELECT regress.error_of($$SELECT coord.shape_delete('b1', 's', 'c', 1)$$);
SELECT regress.error_of($$SELECT coord.shape_apply_batch('b1', '[]')$$);
SELECT regress.error_of($$SELECT * FROM coord.board('b1')$$);
RESET ROLE;
SET ROLE regress_collab_user;
SELECT * FROM coord.doc_append('doc2', 'x', 1, '\x01');
SELECT coord.doc_state_vector('doc1');
SELECT count(*) FROM coord.doc_load('doc1');
SELECT doc, updates FROM coord.docs WHERE doc = 'doc2';
SELECT coord.shape_apply('b2', 's', 'c', 1, '{"x": 1}');
SELECT regress.error_of($$SELECT * FROM coord.doc_updates$$);
SELECT regress.error_of($$INSERT INTO coord.doc_updates VALUES ('d', 'c', 1, NULL, NULL, '\x00', 'postgres', now())$$);
SELECT regress.error_of($$DELETE FROM coord.shapes$$);
SELECT regress.error_of($$SELECT coord.doc_require_name('x', 'doc')$$);
RESET ROLE;
SELECT doc, client, appended_by FROM coord.doc_updates WHERE doc = 'doc2';

DELETE FROM coord.doc_updates; DELETE FROM coord.doc_clients; DELETE FROM coord.doc_snapshots;
DELETE FROM coord.doc_pruned; DELETE FROM coord.doc_announce; DELETE FROM coord.shapes;
DROP ROLE regress_collab_user, regress_collab_nobody;
