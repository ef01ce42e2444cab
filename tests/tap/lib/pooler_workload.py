#!/usr/bin/python3
"""Test 5 of issue 14: pg_coord through pgbouncer in transaction mode
(tests/tap/poolers.sh). --bouncer is the pooler's DSN, --direct the server's.
Prints PASS/FAIL lines (the TAP script turns them into ok / not ok) and
'# ...' figures."""
import argparse
import multiprocessing
import os
import random
import signal
import sys
import threading
import time

import psycopg2

from fenced_pool import TTL, Checks, connect, fenced_client, fenced_counts, one


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bouncer", required=True)
    p.add_argument("--direct", required=True)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--resources", type=int, default=4)
    p.add_argument("--seconds", type=float, default=8)
    args = p.parse_args()
    check = Checks()

    direct = connect(args.direct)
    dcur = direct.cursor()
    dcur.execute("CREATE TABLE pool_writes (id bigserial PRIMARY KEY, resource text, token bigint, client int)")
    dcur.execute("CREATE TABLE pool_rejected (resource text, token bigint, client int)")

    # 1. The fenced workload through the pooler, two clients SIGKILLed midway.
    procs = [multiprocessing.Process(target=fenced_client,
                                     args=(args.bouncer, c, args.resources, args.seconds, c, "pool", True))
             for c in range(args.clients)]
    for pr in procs:
        pr.start()
    time.sleep(args.seconds / 2)
    killed = random.Random(7).sample(range(args.clients), 2)
    for k in killed:
        os.kill(procs[k].pid, signal.SIGKILL)
    for pr in procs:
        pr.join()
    bad = [pr.exitcode for i, pr in enumerate(procs) if i not in killed and pr.exitcode != 0]
    check(not bad, "%d clients through pgbouncer (transaction mode) ran without errors, "
          "2 SIGKILLed" % args.clients)
    accepted, rejected, back = fenced_counts(dcur, "pool")
    print("# fenced writes accepted %d, rejected with PC001 %d (the writer's lease had expired)" % (
        accepted, rejected))
    check(accepted > 0 and back == 0,
          "no accepted write has a token lower than one accepted before it for that resource "
          "(%d writes, %d violations)" % (accepted, back))
    # No lease leak: every holding ends at its ttl, also those of the killed
    # clients and whatever pgbouncer's server connections did.
    time.sleep(TTL + 0.2)
    dcur.execute("SELECT count(*) FROM coord.leases WHERE name LIKE 'pool:%' AND owner IS NOT NULL "
                 "AND NOT expired")
    check(dcur.fetchone()[0] == 0, "no lease is left held after the ttl (no leak through the pooler)")
    dcur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
    check(dcur.fetchone()[0] == 0, "no server connection is left idle in a transaction")

    # 2. acquire(wait_for) through the pooler: woken by the holder's release.
    a = connect(args.bouncer).cursor()
    b = connect(args.bouncer).cursor()
    (ta,) = one(a, "SELECT coord.acquire('pool:wait', 'a', '10 seconds')")
    got = {}

    def waiter():
        t0 = time.time()
        got["token"] = one(b, "SELECT coord.acquire('pool:wait', 'b', '10 seconds', wait_for => '5 seconds')")[0]
        got["secs"] = time.time() - t0

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.5)
    one(a, "SELECT coord.release('pool:wait', %s)", (ta,))
    th.join()
    print("# acquire(wait_for => 5 s) through pgbouncer returned after %.2f s (release after 0.5 s)" % got["secs"])
    check(got["token"] is not None and got["token"] > ta and got["secs"] < 4,
          "acquire(wait_for) through pgbouncer gets the lease when the holder releases it")

    # 3. claim(wait_for) through the pooler: a worker waits with nothing due
    # (its statement keeps one server connection), another client's enqueue
    # wakes it; its token then fences writes through the pooler, whatever
    # server connection each transaction gets; nothing is left claimed.
    one(dcur, "SELECT coord.queue_create('pool-q')")
    got = {}

    def claimer():
        t0 = time.time()
        b.execute("SELECT task_id, token FROM coord.claim('pool-q', 'b', '10 seconds', wait_for => '5 seconds')")
        row = b.fetchone()
        got["task"], got["token"] = row if row else (None, None)
        got["secs"] = time.time() - t0

    th = threading.Thread(target=claimer)
    th.start()
    waiting = 0
    for _ in range(50):  # until the claim is in progress on a server connection
        dcur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                     "AND query LIKE '%coord.claim(''pool-q''%'")
        waiting = dcur.fetchone()[0]
        if waiting:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    th_alive = th.is_alive()
    (tid,) = one(a, "SELECT coord.enqueue('pool-q', '{}')")
    t_enq = time.time()
    th.join()
    woken = time.time() - t_enq
    print("# claim(wait_for => 5 s) through pgbouncer: waiting on a server connection (%d), still waiting "
          "after 0.5 s: %s; returned %.2f s after the enqueue (%.2f s in all)" % (
              waiting, th_alive, woken, got["secs"]), flush=True)
    check(waiting == 1 and th_alive and got["task"] == tid and woken < 4,
          "claim(wait_for) through pgbouncer waits, and an enqueue from another client wakes it with the task")
    tok = got["token"]

    def fenced(cur, token, client):
        """heartbeat(task, token) and a write in one transaction; the SQLSTATE if refused."""
        try:
            cur.execute("BEGIN")
            cur.execute("SELECT coord.heartbeat(%s, %s, '10 seconds')", (tid, token))
            cur.execute("INSERT INTO pool_writes (resource, token, client) VALUES ('pool-q', %s, %s)",
                        (token, client))
            cur.execute("COMMIT")
            return None
        except psycopg2.Error as e:
            cur.execute("ROLLBACK")
            return e.pgcode

    c1 = connect(args.bouncer).cursor()
    first = fenced(c1, tok, 101)                 # the claim's holder: accepted
    one(c1, "SELECT coord.complete(%s, %s)", (tid, tok))
    late = fenced(c1, tok, 102)                  # after complete: the token is stale
    dcur.execute("SELECT count(*) FILTER (WHERE client = 101), count(*) FILTER (WHERE client = 102) "
                 "FROM pool_writes WHERE resource = 'pool-q'")
    n101, n102 = dcur.fetchone()
    print("# through pgbouncer: the claim's fenced write %s; after complete, with the same token: %s" % (
        "committed" if first is None else "refused " + str(first), late or "accepted"), flush=True)
    check(first is None and late == "PC001" and (n101, n102) == (1, 0),
          "the claim's token fences through pgbouncer (accepted while claimed, PC001 after complete)")
    dcur.execute("SELECT count(*) FROM coord.tasks WHERE queue = 'pool-q' AND state = 'processing'")
    left = dcur.fetchone()[0]
    dcur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
    check(left == 0 and dcur.fetchone()[0] == 0,
          "nothing is left claimed and no server connection idle in a transaction")

    # 4. Session advisory locks leak through a transaction-mode pooler.
    c = connect(args.bouncer)
    c.cursor().execute("SELECT pg_advisory_lock(4242)")
    c.close()  # the client is gone; its server connection is not
    time.sleep(0.2)
    dcur.execute("""SELECT count(*) FROM pg_locks l JOIN pg_stat_activity s USING (pid)
                    WHERE l.locktype = 'advisory' AND l.objid = 4242 AND l.granted""")
    leaked = dcur.fetchone()[0]
    others = 0
    for _ in range(8):  # other clients: the pooled connection that holds it "owns" it for them
        d = connect(args.bouncer)
        (ok,) = one(d.cursor(), "SELECT pg_try_advisory_lock(4242)")
        if ok:
            d.cursor().execute("SELECT pg_advisory_unlock(4242)")
            others += 1
        d.close()
    (direct_got,) = one(dcur, "SELECT pg_try_advisory_lock(4242)")
    print("# pg_advisory_lock(4242) of a client that disconnected: still held by %d pooled server "
          "connection(s); %d of 8 later, unrelated pooler clients 'got' it as well (re-entrant on "
          "the server connection they were handed); a direct session got it: %s" % (
              leaked, others, direct_got))
    check(leaked == 1 and not direct_got,
          "a session pg_advisory_lock leaks through pgbouncer transaction mode "
          "(held after its client left, nobody outside the pool can take it)")
    dcur.execute("SELECT pg_advisory_unlock_all()")
    # The same with a coord lease: it ends at its ttl.
    c = connect(args.bouncer)
    one(c.cursor(), "SELECT coord.acquire('pool:left', 'gone', '1 second')")
    c.close()
    time.sleep(1.2)
    dcur.execute("SELECT expired FROM coord.leases WHERE name = 'pool:left'")
    check(dcur.fetchone()[0], "a coord lease of a client that disconnected ends at its ttl")
    print("# checks failed: %d" % check.failures)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
