"""What the pgbouncer workloads share (pooler_workload.py for durable leases,
memory_pooler_workload.py for memory leases): connections, the fenced client
and the count of its writes. A workload with prefix P uses resources 'P:n'
and the tables P_writes (id, resource, token, client) and P_rejected."""
import random
import time

import psycopg2

TTL = 1.0  # seconds


def connect(dsn):
    c = psycopg2.connect(dsn)
    c.autocommit = True
    return c


def one(cur, sql, args=()):
    cur.execute(sql, args)
    return cur.fetchone()


class Checks:
    """PASS/FAIL lines (the TAP script turns them into ok / not ok)."""

    def __init__(self):
        self.failures = 0

    def __call__(self, ok, what):
        print("%s %s" % ("PASS" if ok else "FAIL", what), flush=True)
        self.failures += 0 if ok else 1


def fenced_client(dsn, c, resources, seconds, seed, prefix, durable):
    """acquire -> read -> sleep 0..1.5 TTL -> fenced write -> release, each
    call its own transaction (or one explicit transaction for the write), so
    pgbouncer may give every call another server connection. A durable
    acquire waits up to 1 s; a memory one does not wait and is retried."""
    acquire = ("SELECT coord.acquire(%s, %s, %s::interval, wait_for => '1 second')" if durable
               else "SELECT coord.acquire(%s, %s, %s::interval, durable => false)")
    rnd = random.Random(seed)
    cur = connect(dsn).cursor()
    deadline = time.time() + seconds
    while time.time() < deadline:
        res = "%s:%d" % (prefix, rnd.randrange(resources))
        (tok,) = one(cur, acquire, (res, "c%d" % c, "%f seconds" % TTL))
        if tok is None:
            if not durable:
                time.sleep(0.005)
            continue
        one(cur, "SELECT count(*) FROM %s_writes WHERE resource = %%s" % prefix, (res,))
        time.sleep(rnd.uniform(0, 1.5 * TTL))
        try:
            cur.execute("BEGIN")
            cur.execute("SELECT coord.check_fence(%s, %s)", (res, tok))
            cur.execute("INSERT INTO %s_writes (resource, token, client) VALUES (%%s, %%s, %%s)" % prefix,
                        (res, tok, c))
            cur.execute("COMMIT")
        except psycopg2.Error as e:
            cur.execute("ROLLBACK")
            if e.pgcode != "PC001":
                raise
            cur.execute("INSERT INTO %s_rejected (resource, token, client) VALUES (%%s, %%s, %%s)" % prefix,
                        (res, tok, c))
            continue
        one(cur, "SELECT coord.release(%s, %s)", (res, tok))


def fenced_counts(cur, prefix):
    """(accepted, rejected, out of order): the workload's writes (client >= 0),
    those refused with PC001, and accepted writes whose token is lower than
    one accepted before them for the same resource."""
    (accepted,) = one(cur, "SELECT count(*) FROM %s_writes WHERE client >= 0" % prefix)
    (rejected,) = one(cur, "SELECT count(*) FROM %s_rejected" % prefix)
    (back,) = one(cur, """SELECT count(*) FROM (SELECT token < max(token) OVER (PARTITION BY resource ORDER BY id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS back
                          FROM %s_writes WHERE client >= 0) s WHERE back""" % prefix)
    return accepted, rejected, back
