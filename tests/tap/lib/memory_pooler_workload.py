#!/usr/bin/python3
"""Memory leases (coord.acquire(..., durable => false), issue 16) through
pgbouncer in transaction mode (tests/tap/poolers.sh). --bouncer is a pooler
with server_round_robin = 1 and 3 server connections, so that a client's
consecutive transactions land on different server connections; --direct is
the server. A memory holding belongs to the role and owner that took it, not
to the server connection: acquire, fenced write and release on three
different server connections; another role on the acquiring connection gets
42501; terminating that connection leaves the holding; a fenced workload
leaks nothing. Prints PASS/FAIL lines and '# ...' figures."""
import argparse
import multiprocessing
import sys
import time

import psycopg2

from fenced_pool import TTL, Checks, connect, fenced_client, fenced_counts, one


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bouncer", required=True)
    p.add_argument("--direct", required=True)
    p.add_argument("--clients", type=int, default=12)
    p.add_argument("--resources", type=int, default=4)
    p.add_argument("--seconds", type=float, default=5)
    args = p.parse_args()
    check = Checks()

    direct = connect(args.direct)
    dcur = direct.cursor()
    dcur.execute("CREATE TABLE mpool_writes (id bigserial PRIMARY KEY, resource text, token bigint, client int)")
    dcur.execute("CREATE TABLE mpool_rejected (resource text, token bigint, client int)")
    for r in ("regress_pool_a", "regress_pool_b"):
        dcur.execute("CREATE ROLE %s; GRANT coord_user TO %s" % (r, r))
    dcur.execute("GRANT INSERT, SELECT ON mpool_writes TO coord_user; "
                 "GRANT USAGE ON SEQUENCE mpool_writes_id_seq TO coord_user")

    # Three server connections in the pool, all idle: with server_round_robin
    # every new transaction takes the one idle longest.
    openers = [connect(args.bouncer) for _ in range(3)]
    for o in openers:
        o.autocommit = False
        o.cursor().execute("SELECT 1")
    pids = set()
    for o in openers:
        cur = o.cursor()
        cur.execute("SELECT pg_backend_pid()")
        pids.add(cur.fetchone()[0])
        o.commit()
    print("# the pool's server connections: %d" % len(pids))

    # 1. acquire, fenced write and release on three server connections, as
    # role regress_pool_a (SET LOCAL ROLE: the pooled connection has no role
    # of its own between transactions).
    x = connect(args.bouncer)
    xc = x.cursor()

    def as_role(cur, role, sql, args=()):
        cur.execute("BEGIN")
        try:
            cur.execute("SET LOCAL ROLE " + role)
            cur.execute(sql, args)
            row = cur.fetchone()
            cur.execute("COMMIT")
            return row
        except psycopg2.Error:
            cur.execute("ROLLBACK")
            raise

    tok, p_acquire = as_role(xc, "regress_pool_a",
                             "SELECT coord.acquire('mpool:one', 'svc-1', '30 seconds', durable => false), "
                             "pg_backend_pid()")
    xc.execute("BEGIN")
    xc.execute("SET LOCAL ROLE regress_pool_a")
    xc.execute("SELECT coord.check_fence('mpool:one', %s)", (tok,))
    xc.execute("INSERT INTO mpool_writes (resource, token, client) VALUES ('mpool:one', %s, -1)", (tok,))
    xc.execute("SELECT pg_backend_pid()")
    (p_write,) = xc.fetchone()
    xc.execute("COMMIT")
    released, p_release = as_role(xc, "regress_pool_a",
                                  "SELECT coord.release('mpool:one', %s), pg_backend_pid()", (tok,))
    print("# acquire on server pid %d, fenced write on %d, release on %d" % (
        p_acquire, p_write, p_release))
    check(len({p_acquire, p_write, p_release}) == 3,
          "acquire, fenced write and release ran on three different server connections")
    check(released is True, "the holder's role releases it from another server connection")
    dcur.execute("SELECT count(*) FROM mpool_writes WHERE resource = 'mpool:one' AND token = %s", (tok,))
    check(dcur.fetchone()[0] == 1, "the fenced write through the pooler committed")
    dcur.execute("SELECT count(*) FROM coord.leases WHERE name = 'mpool:one'")
    check(dcur.fetchone()[0] == 0, "nothing is left held after the release")

    # Another role, on whatever server connection: 42501 for the holding,
    # also with the holder's owner string; another owner gets NULL.
    tok2, p_two = as_role(xc, "regress_pool_a",
                          "SELECT coord.acquire('mpool:two', 'svc-2', '30 seconds', durable => false), "
                          "pg_backend_pid()")
    codes = []
    for sql, a in (("SELECT coord.release('mpool:two', %s)", (tok2,)),
                   ("SELECT coord.acquire('mpool:two', 'svc-2', durable => false)", ())):
        try:
            as_role(xc, "regress_pool_b", sql, a)
            codes.append("no error")
        except psycopg2.Error as e:
            codes.append(e.pgcode)
    (other,) = as_role(xc, "regress_pool_b",
                       "SELECT coord.acquire('mpool:two', 'svc-3', durable => false)")
    print("# another role's release and acquire with the holder's owner: %s" % codes)
    check(codes == ["42501", "42501"] and other is None,
          "another role gets 42501 for the memory holding through the pooler, another owner NULL")
    # The acquiring server connection ends: the holding stays (it is not the
    # connection's, unlike a session advisory lock) and its role releases it.
    one(dcur, "SELECT pg_terminate_backend(%s)", (p_two,))
    time.sleep(0.2)
    dcur.execute("SELECT owner, holder_role::text, durable FROM coord.leases WHERE name = 'mpool:two'")
    after_kill = dcur.fetchone()
    check(after_kill == ("svc-2", "regress_pool_a", False),
          "the memory holding outlives the server connection that took it (%s)" % (after_kill,))
    (released2,) = as_role(xc, "regress_pool_a", "SELECT coord.release('mpool:two', %s)", (tok2,))
    check(released2 is True, "... and its role releases it through another one")

    # 2. The fenced workload with memory leases through the pooler.
    procs = [multiprocessing.Process(target=fenced_client,
                                     args=(args.bouncer, c, args.resources, args.seconds, 100 + c, "mpool", False))
             for c in range(args.clients)]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join()
    bad = [pr.exitcode for pr in procs if pr.exitcode != 0]
    check(not bad, "%d clients with memory leases through pgbouncer ran without errors" % args.clients)
    accepted, rejected, back = fenced_counts(dcur, "mpool")
    print("# memory-lease fenced writes accepted %d, rejected with PC001 %d" % (accepted, rejected))
    check(accepted > 0 and back == 0,
          "no accepted memory-fenced write has a token lower than one accepted before it for that "
          "resource (%d writes, %d violations)" % (accepted, back))
    dcur.execute("SELECT count(*) FROM coord.leases WHERE name LIKE 'mpool:%' AND NOT expired")
    left = dcur.fetchone()[0]
    check(left == 0, "no memory lease is left held after the workload (%d)" % left)
    dcur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
    check(dcur.fetchone()[0] == 0, "no server connection is left idle in a transaction")
    print("# checks failed: %d" % check.failures)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
