#!/usr/bin/python3
"""Workload and checks of the high-availability tests (tests/tap/ha/*.sh).

  run     --dsn DSN --workers N --seconds S --out DIR --tag T
          N processes, each a loop of: acquire a new lease (fenced ledger_post
          with its token, renew), enqueue, claim + complete, release. Every
          acknowledged call (its reply arrived) is one JSON line in
          DIR/T-<worker>.jsonl with the wall time of the reply and the server
          port that answered. A failed call (connection lost, server gone)
          reconnects through DSN (a libpq multi-host string with
          target_session_attrs=read-write) and goes on with a new lease.
  doomed  --dsn DSN --n K --out DIR
          K processes each making one write (ledger_post, enqueue, acquire)
          that is expected never to be acknowledged; each writes its outcome.
  verify  --dsn DSN --logs DIR [--kill-time T] [--new-port P] [--doomed] [--lost-after T]
          checks on the (new) primary; prints PASS/FAIL lines and figures.
          --lost-after T (asynchronous replication): the standby received
          nothing after T, so what the old primary acknowledged after T may
          be lost; it is counted, and everything acknowledged before T must
          be there.
  late    --dsn DSN --logs DIR --new-port P [--max K]
          (after an asynchronous failover) the holders of leases and claims
          the new primary never saw try their late fenced writes, renews and
          completes there; another client takes each such lease again.
"""
import argparse
import glob
import json
import multiprocessing
import os
import sys
import time

import psycopg2


def connect(dsn, deadline):
    last = None
    while time.time() < deadline:
        try:
            c = psycopg2.connect(dsn)
            c.autocommit = True
            with c.cursor() as cur:
                cur.execute("SELECT inet_server_port()")
                port = cur.fetchone()[0]
            return c, port
        except psycopg2.Error as e:
            last = e
            time.sleep(0.1)
    raise SystemExit("no connection before the deadline: %s" % last)


def one(cur, sql, args=()):
    cur.execute(sql, args)
    return cur.fetchone()


def worker(dsn, w, seconds, out, tag):
    deadline = time.time() + seconds
    log = open(os.path.join(out, "%s-%d.jsonl" % (tag, w)), "a", buffering=1)

    def ack(port, **kw):
        kw.update(t=time.time(), port=port, w=w, tag=tag)
        log.write(json.dumps(kw) + "\n")

    conn_no = 0
    i = 0
    while time.time() < deadline:
        try:
            conn, port = connect(dsn, deadline + 30)
        except SystemExit:
            return
        conn_no += 1
        cur = conn.cursor()
        try:
            # Queues are explicit (issue 12); false when it exists already.
            one(cur, "SELECT coord.queue_create(%s)", ("ha-%s-w%d" % (tag, w),))
            while time.time() < deadline:
                i += 1
                lease = "ha:%s:w%d:c%d:%d" % (tag, w, conn_no, i)
                owner = "%s-w%d" % (tag, w)
                (tok,) = one(cur, "SELECT coord.acquire(%s, %s, '30 seconds')", (lease, owner))
                ack(port, op="acquire", lease=lease, token=tok)
                key = "%s:w%d:%d" % (tag, w, i)
                entry = one(cur, "SELECT entry_id FROM coord.ledger_post('ha', %s, 1.00, 'USD', %s,"
                                 " fence_name => %s, fence_token => %s)", (key, key, lease, tok))
                ack(port, op="ledger_post", key=key, entry_id=entry[0], token=tok)
                one(cur, "SELECT coord.renew(%s, %s, '30 seconds')", (lease, tok))
                ack(port, op="renew", lease=lease, token=tok)
                (task,) = one(cur, "SELECT coord.enqueue(%s, %s)",
                              ("ha-%s-w%d" % (tag, w), json.dumps({"w": w, "i": i})))
                ack(port, op="enqueue", task_id=task, i=i)
                row = one(cur, "SELECT task_id, token FROM coord.claim(%s, %s, '30 seconds')",
                          ("ha-%s-w%d" % (tag, w), owner))
                if row is not None:
                    ack(port, op="claim", task_id=row[0], token=row[1])
                    one(cur, "SELECT coord.complete(%s, %s)", row)
                    ack(port, op="complete", task_id=row[0], token=row[1])
                (ok,) = one(cur, "SELECT coord.release(%s, %s)", (lease, tok))
                ack(port, op="release", lease=lease, token=tok, released=ok)
        except psycopg2.Error as e:
            log.write(json.dumps({"op": "error", "t": time.time(), "w": w, "port": port,
                                  "error": str(e).strip().splitlines()[0] if str(e).strip() else repr(e)}) + "\n")
            try:
                conn.close()
            except psycopg2.Error:
                pass


def doomed(dsn, k, out):
    res = {"k": k}
    try:
        conn, port = connect(dsn, time.time() + 10)
        res["port"] = port
        cur = conn.cursor()
        kind = ("ledger_post", "enqueue", "acquire")[k % 3]
        res["kind"] = kind
        open(os.path.join(out, "doomed-%d.started" % k), "w").close()
        if kind == "ledger_post":
            one(cur, "SELECT entry_id FROM coord.ledger_post('doomed', %s, 1.00, 'USD', %s)",
                ("doomed-%d" % k, "doomed-%d" % k))
        elif kind == "enqueue":
            one(cur, "SELECT coord.enqueue('doomed', %s)", (json.dumps({"doomed": k}),))
        else:
            one(cur, "SELECT coord.acquire(%s, 'doomed', '1 hour')", ("doomed-%d" % k,))
        res["outcome"] = "acknowledged"
    except (psycopg2.Error, SystemExit) as e:
        res["outcome"] = "error"
        res["error"] = (str(e).strip().splitlines() or [repr(e)])[0]
    res["t"] = time.time()
    with open(os.path.join(out, "doomed-%d.json" % k), "w") as f:
        json.dump(res, f)


def load(logs):
    ops = []
    for path in sorted(glob.glob(os.path.join(logs, "*.jsonl"))):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        ops.append(json.loads(line))
                    except ValueError:
                        pass  # a line cut by SIGKILL of the client: never acknowledged
    return ops


def verify(args):
    failures = 0

    def check(ok, what):
        nonlocal failures
        print("%s %s" % ("PASS" if ok else "FAIL", what))
        if not ok:
            failures += 1

    ops = load(args.logs)
    acked = [o for o in ops if o["op"] != "error"]
    errors = [o for o in ops if o["op"] == "error"]
    conn, port = connect(args.dsn, time.time() + 60)
    cur = conn.cursor()
    by = {}
    for o in acked:
        by.setdefault(o["op"], []).append(o)
    print("# acknowledged operations: %d (%s); failed calls (retried): %d" % (
        len(acked), ", ".join("%s %d" % (k, len(v)) for k, v in sorted(by.items())), len(errors)))

    missing = []
    cur.execute("SELECT idempotency_key FROM coord.ledger WHERE cycle_id = 'ha'")
    keys = {r[0] for r in cur.fetchall()}
    missing += [o for o in by.get("ledger_post", []) if o["key"] not in keys]
    cur.execute("SELECT name, token, owner IS NOT NULL FROM coord.lease_state WHERE name LIKE 'ha:%'")
    leases = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    for o in by.get("acquire", []) + by.get("renew", []):
        st = leases.get(o["lease"])
        if st is None or st[0] < o["token"]:
            missing.append(o)
    for o in by.get("release", []):
        st = leases.get(o["lease"])
        if st is None or (st[1] and st[0] == o["token"]):
            missing.append(o)
    # A task is the one enqueued when its id and its payload match: after an
    # asynchronous failover the new primary's id sequence may hand out an id
    # of a lost task again, for another task.
    cur.execute("SELECT id, state, payload FROM coord.tasks WHERE queue LIKE 'ha-%' "
                "UNION ALL SELECT id, 'complete', payload FROM coord.tasks_complete WHERE queue LIKE 'ha-%'")
    tasks = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    enq = {o["task_id"]: o for o in by.get("enqueue", [])}

    def same_task(o):
        t = tasks.get(o["task_id"])
        e = enq.get(o["task_id"])
        return t is not None and (e is None or "i" not in e or t[1] == {"w": e["w"], "i": e["i"]})

    missing += [o for o in by.get("enqueue", []) if not same_task(o)]
    missing += [o for o in by.get("complete", []) if not same_task(o) or tasks[o["task_id"]][0] != "complete"]
    reused = [o for o in by.get("enqueue", []) if o["task_id"] in tasks and not same_task(o)]
    if reused:
        print("FIGURE task ids of lost tasks the new primary handed out again, to other tasks: %d "
              "(an id sequence is not fenced; claim tokens are)" % len(reused))
    n_checked = len(acked) - len(by.get("claim", []))
    if args.lost_after is None:
        for o in missing[:10]:
            print("# missing: %s" % json.dumps(o))
        check(not missing, "every acknowledged operation is present on the primary "
              "(%d checked, %d missing)" % (n_checked, len(missing)))
    else:
        # Asynchronous replication: what the old primary acknowledged while
        # its standby received nothing is lost. The margin: a commit acknowledged
        # just before the cut may not have been sent yet.
        cut = args.lost_after
        early = [o for o in missing if o["t"] < cut - 1.0]
        window = [o for o in acked if o["t"] >= cut - 1.0 and o["port"] != args.new_port]
        for o in early[:10]:
            print("# missing although acknowledged before the cut: %s" % json.dumps(o))
        check(not early, "every operation acknowledged more than 1 s before replication was cut is "
              "present on the new primary (%d checked, %d missing)" % (
                  sum(1 for o in acked if o["t"] < cut - 1.0 and o["op"] != "claim"), len(early)))
        lost = {}
        for o in missing:
            lost[o["op"]] = lost.get(o["op"], 0) + 1
        print("FIGURE acknowledged operations lost by the asynchronous failover: %d of %d acknowledged "
              "by the old primary after the cut (%s)" % (
                  len(missing), sum(1 for o in window if o["op"] != "claim"),
                  ", ".join("%s %d" % kv for kv in sorted(lost.items())) or "none"))
        check(len(missing) > 0, "asynchronous replication: acknowledged operations were lost (%d), "
              "all acknowledged after the cut" % len(missing))

    tokens = [(o["token"], o) for o in by.get("acquire", []) + by.get("claim", [])]
    seen = {}
    repeats = 0
    for tok, o in tokens:
        key = (o["op"], o.get("lease") or o.get("task_id"))
        if tok in seen and seen[tok] != key:
            repeats += 1
        seen[tok] = key
    check(repeats == 0, "no token was handed out twice (%d tokens checked)" % len(tokens))

    if args.new_port:
        before = [t for t, o in tokens if o["port"] != args.new_port]
        after = [t for t, o in tokens if o["port"] == args.new_port]
        print("# tokens acknowledged by the old primary: %d (max %s); by the new primary: %d (min %s)" % (
            len(before), max(before) if before else "-", len(after), min(after) if after else "-"))
        check(before and after and min(after) > max(before),
              "every token issued after promotion is larger than every token acknowledged before")
    if args.kill_time:
        # The first acquire the new primary acknowledged (a reply that arrived
        # just after the kill may still come from the dying old primary).
        firsts = [o["t"] for o in by.get("acquire", []) if o["t"] > args.kill_time
                  and (not args.new_port or o["port"] == args.new_port)]
        if firsts:
            print("FIGURE seconds from the kill to the first successful acquire: %.2f" % (
                min(firsts) - args.kill_time))
        check(bool(firsts), "acquire succeeds again after the kill")
        print("# operations acknowledged before / after the kill: %d / %d" % (
            sum(1 for o in acked if o["t"] <= args.kill_time),
            sum(1 for o in acked if o["t"] > args.kill_time)))

    if args.doomed:
        outs = []
        for path in sorted(glob.glob(os.path.join(args.logs, "..", "doomed", "doomed-*.json"))):
            with open(path) as f:
                outs.append(json.load(f))
        acked_doomed = [d for d in outs if d["outcome"] == "acknowledged"]
        check(outs and not acked_doomed,
              "no write sent to the cut-off primary was acknowledged (%d sent, %d acknowledged)" % (
                  len(outs), len(acked_doomed)))
        for d in outs:
            print("# cut-off write %d (%s): %s" % (d["k"], d.get("kind"), d.get("error", d["outcome"])))
        cur.execute("SELECT count(*) FROM coord.ledger WHERE cycle_id = 'doomed'")
        led = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM coord.tasks WHERE queue = 'doomed'")
        enq = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM coord.lease_state WHERE name LIKE 'doomed-%%'")
        acq = cur.fetchone()[0]
        check(led + enq + acq == 0, "the unacknowledged writes are gone from the new primary "
              "(ledger %d, tasks %d, leases %d)" % (led, enq, acq))
    print("# checks failed: %d" % failures)
    return 1 if failures else 0


def late(args):
    """The old holders of leases and claims lost in an asynchronous failover
    act late on the new primary: fenced writes, renews and completes must all
    be refused, and the lease can be taken again with a larger token."""
    failures = 0

    def check(ok, what):
        nonlocal failures
        print("%s %s" % ("PASS" if ok else "FAIL", what))
        if not ok:
            failures += 1

    ops = load(args.logs)
    old = [o for o in ops if o["op"] != "error" and o["port"] != args.new_port]
    conn, _ = connect(args.dsn, time.time() + 60)
    cur = conn.cursor()
    cur.execute("SELECT name FROM coord.lease_state WHERE name LIKE 'ha:%'")
    known = {r[0] for r in cur.fetchall()}
    lost_leases = [o for o in old if o["op"] == "acquire" and o["lease"] not in known][:args.max]
    refused = {}
    wrote = 0
    retaken_lower = 0
    new_ok = 0

    def attempt(sql, params):
        """SQLSTATE of a refused call, or None when it succeeded."""
        try:
            cur.execute(sql, params)
            cur.fetchall()
            return None
        except psycopg2.Error as e:
            return e.pgcode or "?"

    def refuse(code, what):
        nonlocal wrote
        if code is None:
            wrote += 1
            print("# ACCEPTED %s" % what)
        else:
            refused[code] = refused.get(code, 0) + 1

    post = ("SELECT * FROM coord.ledger_post('ha-late', %s, 1.00, 'USD', %s, "
            "fence_name => %s, fence_token => %s)")
    for o in lost_leases:
        lease, tok = o["lease"], o["token"]
        # The old holder still believes it holds the lease.
        refuse(attempt(post, ("late1:" + lease, "late1:" + lease, lease, tok)), "late write " + lease)
        refuse(attempt("SELECT coord.renew(%s, %s, '30 seconds')", (lease, tok)), "renew " + lease)
        # Someone else takes it on the new primary ...
        cur.execute("SELECT coord.acquire(%s, 'new-holder', '30 seconds')", (lease,))
        (t2,) = cur.fetchone()
        if t2 is None or t2 <= tok:
            retaken_lower += 1
            print("# lease %s retaken with token %s, the lost holding had %s" % (lease, t2, tok))
            continue
        # ... and the old holder's late write is still refused, the new one's accepted.
        refuse(attempt(post, ("late2:" + lease, "late2:" + lease, lease, tok)), "late write " + lease)
        if attempt(post, ("new:" + lease, "new:" + lease, lease, t2)) is None:
            new_ok += 1
    lost_claims = []
    cur.execute("SELECT id, state, token FROM coord.tasks WHERE queue LIKE 'ha-%'")
    tasks = {r[0]: (r[1], r[2]) for r in cur.fetchall()}
    cur.execute("SELECT id FROM coord.tasks_complete WHERE queue LIKE 'ha-%'")
    done = {r[0] for r in cur.fetchall()}
    for o in old:
        if o["op"] == "claim" and o["task_id"] not in done and (
                o["task_id"] not in tasks or tasks[o["task_id"]][1] != o["token"]):
            lost_claims.append(o)
    lost_claims = lost_claims[:args.max]
    for o in lost_claims:
        refuse(attempt("SELECT coord.complete(%s, %s)", (o["task_id"], o["token"])),
               "complete of task %s" % o["task_id"])
    cur.execute("SELECT count(*) FROM coord.ledger WHERE cycle_id = 'ha-late' AND idempotency_key LIKE 'late%%'")
    (late_rows,) = cur.fetchone()
    print("# lost holdings tried late on the new primary: %d leases, %d claims; refused: %s" % (
        len(lost_leases), len(lost_claims), ", ".join("%s %d" % kv for kv in sorted(refused.items()))))
    check(lost_leases, "leases acquired on the old primary and lost in the failover: %d tried" % len(lost_leases))
    check(wrote == 0 and late_rows == 0,
          "no holder of a lost lease or claim wrote, renewed or completed on the new primary "
          "(%d accepted, %d late ledger rows)" % (wrote, late_rows))
    check(retaken_lower == 0 and new_ok == len(lost_leases),
          "each lost lease is granted again with a larger token, and only its new holder's fenced "
          "write commits (%d of %d)" % (new_ok, len(lost_leases)))
    print("# checks failed: %d" % failures)
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["run", "doomed", "verify", "late"])
    p.add_argument("--dsn", required=True)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--out")
    p.add_argument("--tag", default="A")
    p.add_argument("--n", type=int, default=3)
    p.add_argument("--logs")
    p.add_argument("--kill-time", type=float)
    p.add_argument("--new-port", type=int)
    p.add_argument("--doomed", action="store_true")
    p.add_argument("--lost-after", type=float)
    p.add_argument("--max", type=int, default=20)
    args = p.parse_args()
    if args.cmd == "run":
        os.makedirs(args.out, exist_ok=True)
        procs = [multiprocessing.Process(target=worker, args=(args.dsn, w, args.seconds, args.out, args.tag))
                 for w in range(args.workers)]
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join()
        return 0
    if args.cmd == "doomed":
        os.makedirs(args.out, exist_ok=True)
        procs = [multiprocessing.Process(target=doomed, args=(args.dsn, k, args.out)) for k in range(args.n)]
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join()
        return 0
    if args.cmd == "late":
        return late(args)
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
