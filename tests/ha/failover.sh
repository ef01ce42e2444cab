#!/usr/bin/env bash
# Issue 14, test 1: Patroni failover. A two-node Patroni cluster (ha/patroni.yml,
# synchronous_mode) with one local etcd; a mixed workload (acquire / fenced
# ledger_post / renew / enqueue / claim / complete / release) through the libpq
# multi-host string with target_session_attrs=read-write; the leader's
# postmaster is SIGKILLed; Patroni promotes the replica and the workload goes on
# there. Checks: every acknowledged operation is on the new primary; every
# token issued after the promotion is larger than every token acknowledged
# before; task claims that expire after the kill are requeued by the
# background worker of the new primary. Prints the counts and the seconds
# from the kill to the first successful acquire. About 60 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/cluster.sh
source tests/tap/lib/tap.sh
W=tests/tap/lib/ha_workload.py
LOGS=$COORD_TMP_ROOT/ha-logs; mkdir -p "$LOGS"
psql_node() { local n=$1; shift; "$PG_BIN/psql" -X -Atq -v ON_ERROR_STOP=1 "$(patroni_node_dsn "$n")" "$@"; }

etcd_start; tap_ok $? "etcd is up on 127.0.0.1:$ETCD_PORT"
patroni_start n1 true && patroni_wait_leader n1 90 >/dev/null
tap_ok $? "Patroni node n1 bootstrapped the cluster and leads it"
psql_node n1 -c "CREATE EXTENSION pg_coord"
tap_ok $? "pg_coord created on the leader"
patroni_start n2 true && patroni_wait_replica n2 sync 120
tap_ok $? "Patroni node n2 is the synchronous replica"
DSN=$(patroni_dsn)
echo "# clients connect with: $DSN"

/usr/bin/python3 "$W" run --dsn "$DSN" --workers 6 --seconds 20 --out "$LOGS" --tag A &
wl=$!
# Tasks claimed with a short ttl and never completed: their claims expire
# after the kill, so only the new primary's worker can requeue them.
sleep 4   # let the workload run on n1 for a while
psql_node n1 -c "SELECT coord.queue_create('ha-expire')" >/dev/null
psql_node n1 -c "SELECT coord.enqueue('ha-expire', jsonb_build_object('i', i)) FROM generate_series(1, 5) i" >/dev/null
expiring=$(psql_node n1 -c "SELECT count(*) FROM coord.claim('ha-expire', 'doomed-worker', '4 seconds', 5)")
tap_ok $([ "$expiring" = 5 ]; echo $?) "5 tasks claimed on n1 with a 4 s claim lease, never completed"

old_pm=$(patroni_postmaster_pid n1)
kill_t=$(date +%s.%N)
kill -KILL "$old_pm"
tap_ok $? "SIGKILL to n1's postmaster ($old_pm)"
new=$(patroni_wait_leader n2 90); st=$?
promoted_t=$(date +%s.%N)
tap_ok $st "Patroni promoted n2"
echo "FIGURE seconds from the kill to n2 accepting writes (Patroni leader, not in recovery): $(echo "$promoted_t - $kill_t" | bc)"

# The worker of the new primary requeues the expired claims (ttl 4 s, sweep 200 ms).
requeued=0
for i in $(seq 150); do
    requeued=$(psql_node n2 -c "SELECT count(*) FROM coord.tasks WHERE queue = 'ha-expire'
                                 AND state = 'pending' AND attempts = 1" 2>/dev/null || echo 0)
    [ "$requeued" = 5 ] && break
    sleep 0.2
done
tap_ok $([ "$requeued" = 5 ]; echo $?) "the new primary's worker requeued the 5 expired claims ($requeued)"

wait "$wl"
tap_ok $? "the workload ran to its end"
tap_checks /usr/bin/python3 "$W" verify --dsn "$DSN" --logs "$LOGS" --kill-time "$kill_t" \
    --new-port "$(patroni_node_port n2)"

# n1 comes back as a replica of n2 (Patroni restarts it; pg_rewind if needed).
patroni_wait_replica n1 sync 120
tap_ok $? "the old leader n1 rejoined as n2's synchronous replica"
tap_done
