#!/usr/bin/env bash
# Issue 14, test 2: partition and reconciliation. Two Patroni nodes with
# synchronous_mode and use_pg_rewind (ha/patroni.yml), one etcd, a workload
# through the multi-host string. The primary n1 is cut off: its Patroni is
# stopped (SIGKILL: nothing renews n1's leader key in etcd any more; its
# PostgreSQL goes on as a primary) and its walsender is paused (SIGSTOP: its
# synchronous replica n2 receives nothing more).
# Writes sent to n1 now commit locally and wait for the synchronous standby:
# they never return. Then n1 is paused as a whole (the "paused old primary");
# its leader key expires and Patroni promotes n2; a second workload runs on
# n2. Heal: n1 and its Patroni go on, Patroni demotes n1 and rewinds it with
# pg_rewind onto n2's timeline, and n1 rejoins as n2's synchronous replica.
# Checks: every write any client saw acknowledged is on n2; the writes n1
# never acknowledged are gone; no token repeats or steps back. Prints what
# was discarded. About 90 s.
#
# Why Patroni is killed and started again rather than paused: Debian 12's
# Patroni 3.0.2, SIGSTOPped past its ttl and resumed, puts its own name back
# into the leader key unconditionally (etcd3 _update_leader; fixed in 3.0.3,
# patroni/patroni#2689): the promoted n2 was demoted, rejoined the old
# timeline, and writes acknowledged by n2 were lost. README, "High
# availability", says what to run in production.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/cluster.sh
source tests/tap/lib/tap.sh
W=tests/tap/lib/ha_workload.py
LOGS=$COORD_TMP_ROOT/ha-logs; DOOMED=$COORD_TMP_ROOT/doomed; mkdir -p "$LOGS" "$DOOMED"
psql_node() { local n=$1; shift; "$PG_BIN/psql" -X -Atq -v ON_ERROR_STOP=1 "$(patroni_node_dsn "$n")" "$@"; }
# Waits up to $1 s for the shell condition $2.
wait_until() { local i; for i in $(seq $(($1 * 5))); do eval "$2" && return 0; sleep 0.2; done; return 1; }

etcd_start; tap_ok $? "etcd is up on 127.0.0.1:$ETCD_PORT"
patroni_start n1 true && patroni_wait_leader n1 90 >/dev/null
tap_ok $? "Patroni node n1 bootstrapped the cluster and leads it (synchronous_mode)"
psql_node n1 -c "CREATE EXTENSION pg_coord" -c "SELECT coord.queue_create('doomed')" >/dev/null
tap_ok $? "pg_coord created on the leader"
patroni_start n2 true && patroni_wait_replica n2 sync 120
tap_ok $? "Patroni node n2 is the synchronous replica"
DSN=$(patroni_dsn)
echo "# clients connect with: $DSN"

# Workload A: on n1, then (its calls in flight at the cut hang until the heal)
# on n2.
/usr/bin/python3 "$W" run --dsn "$DSN" --workers 4 --seconds 45 --out "$LOGS" --tag A &
wl_a=$!
sleep 5   # workload A runs on n1 for a while

# The cut.
n1_patroni=$(patroni_pid n1)
n1_pm=$(patroni_postmaster_pid n1)
kill -KILL "$n1_patroni"
tap_ok $? "n1's Patroni stopped (SIGKILL): nothing renews n1's leader key"
n1_walsender=$(postmaster_child_pid "$n1_pm" walsender)
kill -STOP "$n1_walsender"
tap_ok $? "n1's walsender to n2 paused (SIGSTOP, pid $n1_walsender): replication is cut"
cut_t=$(date +%s.%N)

# Writes straight to n1 (ledger_post, enqueue, acquire): they commit locally
# and wait for the synchronous standby.
/usr/bin/python3 "$W" doomed --dsn "$(patroni_node_dsn n1) application_name=doomed" --n 6 --out "$DOOMED" &
doomed_pid=$!
# (An enqueue may instead wait for the lock of another transaction's NOTIFY,
# which is itself waiting for the standby.)
wait_until 30 '[ "$(psql_node n1 -c "SELECT count(*) FROM pg_stat_activity
                     WHERE application_name = '"'doomed'"' AND state = '"'active'"'
                       AND wait_event IS NOT NULL")" = 6 ]'
tap_ok $? "6 writes to the cut-off n1 hang: committed locally and waiting for the synchronous standby (SyncRep), or behind such a commit"
psql_node n1 -c "SELECT 'n1 backend: ' || coalesce(wait_event, '-') || ' ' || left(query, 60)
                 FROM pg_stat_activity WHERE application_name = 'doomed'" | sed 's/^/# /'
sleep 2   # they keep waiting
n_returned=$(ls "$DOOMED"/doomed-*.json 2>/dev/null | wc -l)
tap_ok $([ "$n_returned" = 0 ]; echo $?) "none of them returned while n1 is cut off ($n_returned)"
lsn_n1=$(psql_node n1 -c "SELECT pg_current_wal_lsn()")
lsn_n2=$(psql_node n2 -c "SELECT pg_last_wal_receive_lsn()")
echo "# WAL: n1 wrote up to $lsn_n1, n2 received up to $lsn_n2: pg_rewind discards" \
     "$(psql_node n1 -c "SELECT pg_wal_lsn_diff('$lsn_n1', '$lsn_n2')") bytes of n1's WAL" \
     "(the cut-off writes and the workload's calls in flight at the cut)"

# The paused old primary: every process of n1's postgres stops.
kill -STOP "$n1_pm" $(ps -o pid= --ppid "$n1_pm")
tap_ok $? "n1's postgres paused as a whole (SIGSTOP)"
patroni_wait_leader n2 90 >/dev/null
tap_ok $? "Patroni promoted n2 after n1's leader key expired"
promoted_t=$(date +%s.%N)
echo "FIGURE seconds from the cut to n2 accepting writes: $(echo "$promoted_t - $cut_t" | bc)"

# Workload B on the promoted n2 (the multi-host string skips the frozen n1
# after connect_timeout).
/usr/bin/python3 "$W" run --dsn "$DSN" --workers 4 --seconds 8 --out "$LOGS" --tag B
tap_ok $? "workload B ran on n2 through the multi-host string"

# Heal.
heal_t=$(date +%s.%N)
kill -CONT "$n1_pm" $(ps -o pid= --ppid "$n1_pm") "$n1_walsender"
tap_ok $? "n1's postgres resumed (SIGCONT): a primary of the old timeline"
patroni_start n1 true
tap_ok $? "n1's Patroni started again"
patroni_wait_replica n1 sync 180
tap_ok $? "n1 rejoined as n2's synchronous replica"
echo "FIGURE seconds from the heal to n1 streaming as a replica again: $(echo "$(date +%s.%N) - $heal_t" | bc)"
grep -hiE "rewind|diverg|ahead" "$COORD_TMP_ROOT/patroni-n1/patroni-n1.log" | sed 's/^/#   patroni n1: /' | head -n 12
grep -qi "pg_rewind" "$COORD_TMP_ROOT/patroni-n1/patroni-n1.log"
tap_ok $? "Patroni rewound n1 with pg_rewind"
tli_n1=$(psql_node n1 -c "SELECT received_tli FROM pg_stat_wal_receiver")
tli_n2=$(psql_node n2 -c "SELECT timeline_id FROM pg_control_checkpoint()")
[ -n "$tli_n1" ] && [ "$tli_n1" = "$tli_n2" ]
tap_ok $? "n1 follows n2's timeline ($tli_n1 / $tli_n2)"

wait "$doomed_pid"
wait "$wl_a"
tap_ok $? "workload A ran to its end"
tap_checks /usr/bin/python3 "$W" verify --dsn "$DSN" --logs "$LOGS" --new-port "$(patroni_node_port n2)" --doomed
# The services' logs stay in build/test-results/ha-partition for a look.
rm -rf build/test-results/ha-partition; mkdir -p build/test-results/ha-partition
cp "$COORD_TMP_ROOT"/patroni-*/patroni-*.log "$COORD_TMP_ROOT"/etcd/etcd.log build/test-results/ha-partition/ 2>/dev/null
tap_done
