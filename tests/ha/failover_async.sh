#!/usr/bin/env bash
# Issue 14, test 1 with asynchronous replication: what the README's "High
# availability" says about synchronous_mode off, shown. Two Patroni nodes
# (ha/patroni.yml with synchronous_mode: false) and one etcd; the workload of
# failover.sh through the multi-host string. n1's walsender to n2 is paused
# (SIGSTOP): n1 goes on acknowledging commits that its standby never
# receives. Then n1's postgres dies (SIGKILL of the postmaster and all its
# children); Patroni promotes the lagging n2 (within maximum_lag_on_failover)
# and rewinds n1 into its replica.
# Checks: everything acknowledged before the cut is on n2; acknowledged
# operations after it are lost (counted: async replication loses them);
# fencing still holds: every token issued after the promotion is larger than
# every token acknowledged before, also the lost ones (the allocator's token
# epoch); the holders of lost leases and claims cannot write, renew or
# complete late on n2, and a lost lease is granted again with a larger token;
# claims that expire after the cut are requeued by n2's worker. About 60-75 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/cluster.sh
source tests/tap/lib/tap.sh
W=tests/tap/lib/ha_workload.py
LOGS=$COORD_TMP_ROOT/ha-logs; mkdir -p "$LOGS"
psql_node() { local n=$1; shift; "$PG_BIN/psql" -X -Atq -v ON_ERROR_STOP=1 "$(patroni_node_dsn "$n")" "$@"; }
# Waits up to $1 s for the shell condition $2.
wait_until() { local i; for i in $(seq $(($1 * 5))); do eval "$2" && return 0; sleep 0.2; done; return 1; }

etcd_start; tap_ok $? "etcd is up on 127.0.0.1:$ETCD_PORT"
patroni_start n1 false && patroni_wait_leader n1 90 >/dev/null
tap_ok $? "Patroni node n1 bootstrapped the cluster and leads it (synchronous_mode: false)"
psql_node n1 -c "CREATE EXTENSION pg_coord" -c "SELECT coord.queue_create('ha-expire')" >/dev/null
tap_ok $? "pg_coord created on the leader"
patroni_start n2 false && patroni_wait_replica n2 async 120
tap_ok $? "Patroni node n2 is an asynchronous replica"
DSN=$(patroni_dsn)
echo "# clients connect with: $DSN"

/usr/bin/python3 "$W" run --dsn "$DSN" --workers 4 --seconds 20 --out "$LOGS" --tag A &
wl=$!
sleep 3   # the workload runs on n1 for a while

# Claims that expire after the cut (ttl 12 s): only n2's worker can requeue
# them on n2, since whatever n1 does after the cut is lost. They are
# replicated first.
expiring=$(psql_node n1 -c "SELECT coord.enqueue('ha-expire', jsonb_build_object('i', i)) FROM generate_series(1, 5) i" \
                        -c "SELECT count(*) FROM coord.claim('ha-expire', 'doomed-worker', '12 seconds', 5)" | tail -n 1)
tap_ok $([ "$expiring" = 5 ]; echo $?) "5 tasks claimed on n1 with a 12 s claim lease, never completed"
wait_until 30 '[ "$(psql_node n2 -c "SELECT count(*) FROM coord.tasks WHERE queue = '"'ha-expire'"' AND state = '"'processing'"'")" = 5 ]'
tap_ok $? "n2 has replayed the 5 claims"

# The cut: n1's standby receives nothing more; n1 goes on acknowledging.
n1_pm=$(patroni_postmaster_pid n1)
n1_walsender=$(postmaster_child_pid "$n1_pm" walsender)
kill -STOP "$n1_walsender"
tap_ok $? "n1's walsender to n2 paused (SIGSTOP, pid $n1_walsender): n2 receives nothing more"
cut_t=$(date +%s.%N)
# n2's copy is frozen from here on: the claims are open there.
[ "$(psql_node n2 -c "SELECT count(*) FROM coord.tasks WHERE queue = 'ha-expire' AND state = 'processing'
                      AND lease_expires_at > clock_timestamp()")" = 5 ]
tap_ok $? "at the cut the 5 claims are open (not expired) on n2: only n2's own worker can requeue them there"
sleep 3   # n1 acknowledges writes that n2 never receives
lsn_n1=$(psql_node n1 -c "SELECT pg_current_wal_lsn()")
lsn_n2=$(psql_node n2 -c "SELECT pg_last_wal_receive_lsn()")
echo "# WAL: n1 wrote up to $lsn_n1, n2 received up to $lsn_n2:" \
     "$(psql_node n1 -c "SELECT pg_wal_lsn_diff('$lsn_n1', '$lsn_n2')") bytes n2 never got"

# n1's postgres dies as a whole (its Patroni stays: it fails over at once,
# primary_start_timeout 0).
kill_t=$(date +%s.%N)
kill -KILL "$n1_pm" $(ps -o pid= --ppid "$n1_pm")
tap_ok $? "SIGKILL to n1's postmaster ($n1_pm) and all its children"
patroni_wait_leader n2 90 >/dev/null
tap_ok $? "Patroni promoted the lagging n2"
echo "FIGURE seconds from the kill to n2 accepting writes: $(echo "$(date +%s.%N) - $kill_t" | bc)"

wait_until 30 '[ "$(psql_node n2 -c "SELECT count(*) FROM coord.tasks WHERE queue = '"'ha-expire'"'
                                     AND state = '"'pending'"' AND attempts = 1" 2>/dev/null)" = 5 ]'
tap_ok $? "the new primary's worker requeued the 5 expired claims"

wait "$wl"
tap_ok $? "the workload ran to its end"
tap_checks /usr/bin/python3 "$W" verify --dsn "$DSN" --logs "$LOGS" --kill-time "$kill_t" \
    --new-port "$(patroni_node_port n2)" --lost-after "$cut_t"
tap_checks /usr/bin/python3 "$W" late --dsn "$DSN" --logs "$LOGS" --new-port "$(patroni_node_port n2)"

# n1 comes back as n2's replica: Patroni rewinds what n2 never had.
patroni_wait_replica n1 async 120
tap_ok $? "the old leader n1 rejoined as n2's replica"
grep -qi "pg_rewind" "$COORD_TMP_ROOT/patroni-n1/patroni-n1.log"
tap_ok $? "Patroni rewound n1 with pg_rewind (its acknowledged writes that n2 never had are gone)"
tap_done
