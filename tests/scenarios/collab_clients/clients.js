// tests/scenarios/collab_clients (see run): Yjs writers, a compacting
// client, a joining client and whiteboard clients against pg_coord.
// Environment: PGHOST, PGPORT, PGUSER (superuser), PGUSER_WRITERS (a
// coord_user), UPDATES (default 10000), SEED (default random).
'use strict';
const Y = require('yjs');
const { Client } = require('pg');

const UPDATES = Number(process.env.UPDATES || 10000);
const SEED = Number(process.env.SEED || Math.floor(Math.random() * 2 ** 31));
const DOC = 'scenario:doc';
const BOARD = 'scenario:board';
const WRITERS = ['writer-a', 'writer-b', 'writer-c'];

// A seeded generator, so that a failing run can be repeated (SEED=...).
let state = SEED >>> 0;
function random() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (n) => Math.floor(random() * n);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function shuffle(a) {
    for (let i = a.length - 1; i > 0; i--) {
        const j = pick(i + 1);
        [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
}
function fail(message) {
    console.log(`FAIL: ${message} (SEED=${SEED})`);
    process.exit(1);
}

async function connect(user) {
    const c = new Client({ user });
    await c.connect();
    return c;
}

// Every update any writer made: created[client][seq] = { payload, deps }.
const created = Object.fromEntries(WRITERS.map((w) => [w, [null]]));
const counts = { appended: 0, resends: 0, gaps: 0, held: 0, rejoins: 0, direct: 0, syncs: 0 };

class Writer {
    constructor(name, db) {
        this.name = name;
        this.db = db;
        this.doc = new Y.Doc();
        this.text = this.doc.getText('t');
        this.seq = 0;
        this.outbox = [];  // seqs not yet stored
        this.acked = [];   // seqs stored (for resends)
        this.known = {};   // other clients: the highest seq integrated (contiguous)
        // Each local edit's update as Yjs emits it (what a provider sends:
        // the edit's items and its own deletions, not the whole delete set).
        this.doc.on('update', (update, origin) => {
            if (origin === this) this.local = update;
        });
    }

    edit() {
        const len = this.text.length;
        this.local = null;
        this.doc.transact(() => {
            if (len > 20 && random() < 0.2) this.text.delete(pick(len), 1 + pick(3));
            else this.text.insert(pick(len + 1), `${this.name[7]}${this.seq} `);
        }, this);
        if (!this.local) fail(`${this.name}: an edit emitted no update`);
        const payload = Buffer.from(this.local);
        this.seq += 1;
        const deps = {};
        for (const [c, s] of Object.entries(this.known)) if (s > 0) deps[c] = s;
        created[this.name][this.seq] = { payload, deps };
        this.outbox.push(this.seq);
    }

    integrate(client, seq, payload) {
        if (client === this.name) return;
        if (seq !== (this.known[client] || 0) + 1) return;  // already had it
        Y.applyUpdate(this.doc, payload);
        this.known[client] = seq;
    }

    // A peer hands over its updates directly (before the server has them).
    takeDirectly(peer) {
        if (peer === this) return;
        for (let s = (this.known[peer.name] || 0) + 1; s <= peer.seq; s++) {
            this.integrate(peer.name, s, created[peer.name][s].payload);
            counts.direct += 1;
        }
    }

    async append(seq) {
        const u = created[this.name][seq];
        const deps = Object.keys(u.deps).length ? JSON.stringify(u.deps) : null;
        try {
            const r = await this.db.query(
                'SELECT accepted, state FROM coord.doc_append($1, $2, $3, $4, $5)',
                [DOC, this.name, seq, u.payload, deps]);
            return r.rows[0];
        } catch (e) {
            if (e.code === 'PC003') return null;  // sent before the seq before it
            throw e;
        }
    }

    // Sends the first few of the outbox in random order (a seq sent before
    // the one before it gets PC003), or all of it in order.
    async send(all) {
        const batch = all ? [...this.outbox] : shuffle(this.outbox.slice(0, 1 + pick(4)));
        for (const seq of batch) {
            if (random() < 0.05) await sleep(pick(3));
            const r = await this.append(seq);
            if (r === null) {
                counts.gaps += 1;
                continue;
            }
            if (!r.accepted) fail(`${this.name} ${seq}: first send answered as a resend`);
            counts.appended += 1;
            if (r.state === 'held') counts.held += 1;
            this.outbox.splice(this.outbox.indexOf(seq), 1);
            this.acked.push(seq);
        }
        if (this.acked.length && random() < 0.2) {  // a resend (a lost reply)
            const seq = this.acked[pick(this.acked.length)];
            const r = await this.append(seq);
            if (!r || r.accepted) fail(`${this.name} ${seq}: resend was not answered as a resend`);
            counts.resends += 1;
        }
    }

    async sync() {
        counts.syncs += 1;
        const have = { ...this.known, [this.name]: this.seq };
        let rows;
        try {
            rows = (await this.db.query('SELECT client, seq, payload FROM coord.doc_since($1, $2)',
                                        [DOC, JSON.stringify(have)])).rows;
        } catch (e) {
            if (e.code !== '55000') throw e;
            return this.rejoin();
        }
        for (const r of rows) this.integrate(r.client, Number(r.seq), r.payload);
    }

    // What it lacks was pruned: load the snapshot and what follows it (Yjs
    // ignores what the document already has).
    async rejoin() {
        counts.rejoins += 1;
        const rows = (await this.db.query('SELECT * FROM coord.doc_load($1)', [DOC])).rows;
        for (const r of rows) {
            if (r.snapshot) {
                Y.applyUpdate(this.doc, r.snapshot);
                for (const [c, s] of Object.entries(r.snapshot_vector))
                    if (c !== this.name && s > (this.known[c] || 0)) this.known[c] = s;
            } else if (r.client !== this.name && Number(r.seq) > (this.known[r.client] || 0)) {
                Y.applyUpdate(this.doc, r.payload);
                this.known[r.client] = Number(r.seq);
            }
        }
    }
}

// A client that loads the document and uploads its merged state.
async function compact(db) {
    const rows = (await db.query('SELECT * FROM coord.doc_load($1)', [DOC])).rows;
    const doc = new Y.Doc();
    const vector = {};
    for (const r of rows) {
        if (r.snapshot) {
            Y.applyUpdate(doc, r.snapshot);
            Object.assign(vector, r.snapshot_vector);
        } else {
            Y.applyUpdate(doc, r.payload);
            vector[r.client] = Number(r.seq);
        }
    }
    if (!Object.keys(vector).length) return;
    await db.query('SELECT coord.doc_snapshot($1, $2, $3)',
                   [DOC, JSON.stringify(vector), Buffer.from(Y.encodeStateAsUpdate(doc))]);
    counts.snapshots = (counts.snapshots || 0) + 1;
}

async function documents(admin) {
    const writers = [];
    for (const name of WRITERS) writers.push(new Writer(name, await connect(process.env.PGUSER_WRITERS)));
    const compactor = await connect(process.env.PGUSER_WRITERS);
    let total = 0;
    let compactions = 0;
    async function loop(w) {
        while (total < UPDATES) {
            const action = random();
            if (action < 0.55) {
                w.edit();
                total += 1;
            } else if (action < 0.65) {
                w.takeDirectly(writers[pick(writers.length)]);
            } else if (action < 0.8) {
                await w.sync();
            } else {
                await w.send(false);
            }
            if (random() < 0.02) await sleep(pick(4));
            // Compaction twice (at a third and at two thirds), then pruning
            // of what the snapshot covers (a retention of 0: every snapshot).
            if (compactions < 2 && total >= (UPDATES * (compactions + 1)) / 3) {
                compactions += 1;
                await compact(compactor);
                const r = await admin.query(
                    "SET coord.doc_retention = 0; SELECT (coord.sweep() ->> 'doc_updates_pruned')::int AS n");
                counts.pruned = (counts.pruned || 0) + r[1].rows[0].n;
            }
        }
    }
    await Promise.all(writers.map(loop));
    // Everything is sent in the end (each writer takes the others' updates
    // directly first, so that even the last updates are held for a while).
    for (const w of writers) w.takeDirectly(writers[(writers.indexOf(w) + 1) % writers.length]);
    for (let round = 0; writers.some((w) => w.outbox.length); round++) {
        if (round > 1000) fail('outboxes never emptied');
        for (const w of shuffle([...writers])) if (w.outbox.length) await w.send(random() < 0.5);
    }
    for (const w of writers) await w.sync();

    // The server has every update, none held.
    const sv = (await admin.query('SELECT coord.doc_state_vector($1) AS v', [DOC])).rows[0].v;
    for (const w of writers)
        if (sv[w.name] !== w.seq) fail(`state vector ${JSON.stringify(sv)}: ${w.name} made ${w.seq}`);
    const docs = (await admin.query('SELECT held FROM coord.docs WHERE doc = $1', [DOC])).rows[0];
    if (Number(docs.held) !== 0) fail(`${docs.held} updates still held`);
    const texts = writers.map((w) => w.text.toString());
    if (new Set(texts).size !== 1) fail('the writers\' documents differ');

    // A joining client: the newest snapshot and every update after it,
    // exactly once, each after what it depends on.
    const joiner = await connect(process.env.PGUSER_WRITERS);
    const rows = (await joiner.query('SELECT * FROM coord.doc_load($1)', [DOC])).rows;
    const doc = new Y.Doc();
    const have = {};
    let fromSnapshot = 0;
    let updates = 0;
    rows.forEach((r, i) => {
        if (r.snapshot) {
            if (i !== 0) fail('the snapshot is not the first row');
            Y.applyUpdate(doc, r.snapshot);
            Object.assign(have, r.snapshot_vector);
            fromSnapshot = Object.values(have).reduce((a, b) => a + b, 0);
            return;
        }
        const seq = Number(r.seq);
        const u = created[r.client][seq];
        if (!u || !u.payload.equals(r.payload)) fail(`${r.client} ${seq}: not the payload sent`);
        if (seq !== (have[r.client] || 0) + 1)
            fail(`${r.client} ${seq} came after ${r.client} ${have[r.client] || 0} (twice, or out of order)`);
        for (const [c, s] of Object.entries(u.deps))
            if ((have[c] || 0) < s) fail(`${r.client} ${seq} came before its dependency ${c} ${s}`);
        Y.applyUpdate(doc, r.payload);
        have[r.client] = seq;
        updates += 1;
    });
    for (const w of writers)
        if (have[w.name] !== w.seq) fail(`the joining client has ${w.name} up to ${have[w.name]}, not ${w.seq}`);
    if (doc.getText('t').toString() !== texts[0]) fail('the joining client\'s document differs from the writers\'');
    // A join without the snapshot is refused: what it lacks was pruned.
    try {
        await joiner.query('SELECT count(*) FROM coord.doc_since($1)', [DOC]);
        if (counts.pruned > 0) fail('doc_since({}) after pruning did not raise 55000');
    } catch (e) {
        if (e.code !== '55000') throw e;
    }
    const total_made = writers.reduce((a, w) => a + w.seq, 0);
    console.log(`documents: ${total_made} Yjs updates by ${writers.length} writers ` +
                `(${counts.appended} stored, ${counts.held} held on arrival, ${counts.gaps} sends refused ` +
                `as gaps (PC003) and sent again, ${counts.resends} resends, ${counts.direct} handed over ` +
                `directly, ${counts.rejoins} rejoins after pruning); ${counts.snapshots} snapshots, ` +
                `${counts.pruned} updates pruned`);
    console.log(`joining client: snapshot covering ${fromSnapshot} updates + ${updates} updates, ` +
                `each once and after its dependencies; document equal to the writers' ` +
                `(${texts[0].length} characters)`);
    for (const c of [...writers.map((w) => w.db), compactor, joiner]) await c.end();
}

// Whiteboard: three clients send batches concurrently (some twice); the
// board must equal a single-threaded replay of the same ops in another order.
async function whiteboard(admin) {
    const all = [];
    async function client(name, db) {
        let lamport = 0;
        const sent = [];
        for (let b = 0; b < 60; b++) {
            const ops = [];
            for (let i = 0, n = 1 + pick(8); i < n; i++) {
                lamport = Math.max(lamport + 1, pick(3) === 0 ? lamport + pick(5) : 0);
                const shape = `s${pick(40)}`;
                if (random() < 0.01) ops.push({ shape, client: name, lamport, delete: true });
                else {
                    const fields = {};
                    for (const f of ['x', 'y', 'w', 'h', 'color']) if (random() < 0.4) fields[f] = pick(100);
                    if (!Object.keys(fields).length) fields.x = pick(100);
                    ops.push({ shape, client: name, lamport: lamport - pick(2), fields });
                }
            }
            await db.query('SELECT coord.shape_apply_batch($1, $2)', [BOARD, JSON.stringify(ops)]);
            sent.push(ops);
            all.push(...ops);
            if (random() < 0.15) await db.query('SELECT coord.shape_apply_batch($1, $2)',
                                                [BOARD, JSON.stringify(sent[pick(sent.length)])]);
            if (random() < 0.1) await sleep(pick(3));
        }
        await db.end();
    }
    const names = ['alice', 'bob', 'carol'];
    const conns = [];
    for (const n of names) conns.push(await connect(process.env.PGUSER_WRITERS));
    await Promise.all(names.map((n, i) => client(n, conns[i])));
    const replay = `${BOARD}:replay`;
    for (const op of shuffle([...all])) {
        if (op.delete) await admin.query('SELECT coord.shape_delete($1, $2, $3, $4)', [replay, op.shape, op.client, op.lamport]);
        else await admin.query('SELECT coord.shape_apply($1, $2, $3, $4, $5)',
                               [replay, op.shape, op.client, op.lamport, JSON.stringify(op.fields)]);
    }
    const board = async (b) => JSON.stringify((await admin.query(
        'SELECT shape, fields, deleted FROM coord.board($1) ORDER BY shape', [b])).rows);
    const concurrent = await board(BOARD);
    if (concurrent !== await board(replay)) fail('the board differs from a single-threaded replay');
    const shapes = JSON.parse(concurrent);
    console.log(`whiteboard: ${all.length} ops from 3 clients in batches (some sent twice), ${shapes.length} shapes ` +
                `(${shapes.filter((s) => s.deleted).length} deleted): equal to a single-threaded replay in another order`);
}

(async () => {
    console.log(`seed ${SEED}`);
    const admin = await connect(process.env.PGUSER);
    await documents(admin);
    await whiteboard(admin);
    await admin.end();
    console.log('ok');
})().catch((e) => fail(e.stack || String(e)));
