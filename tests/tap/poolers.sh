#!/usr/bin/env bash
# Issue 14, test 5: pg_coord through pgbouncer (Debian's) in transaction
# mode. The fenced workload (16 clients, 4 resources, acquire with wait_for ->
# read -> sleep 0..1.5 ttl -> fenced write -> release; two clients SIGKILLed)
# loses no fencing and leaks no lease; acquire(wait_for) and claim(wait_for)
# (woken by another client's enqueue; its token fences a write, nothing left
# claimed) work through the pooler; a session pg_advisory_lock leaks there; memory
# leases (issue 16) belong to role and owner, not to the server connection.
# About 30 s.
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/cluster.sh
source tests/tap/lib/tap.sh
cluster_start pool "fsync = off" "coord.sweep_interval = '100ms'" >/dev/null
tap_ok $? "server started"
cluster_psql pool -c "CREATE EXTENSION pg_coord"
PGBOUNCER_POOL_SIZE=8 pgbouncer_start tx pool
tap_ok $? "pgbouncer started in transaction mode on 127.0.0.1:$PGBOUNCER_PORT"
tap_checks /usr/bin/python3 tests/tap/lib/pooler_workload.py \
    --bouncer "host=127.0.0.1 port=$PGBOUNCER_PORT user=postgres dbname=postgres" \
    --direct "host=$(cluster_dir pool)/socket port=${COORD_CLUSTER_PORT[pool]} user=postgres dbname=postgres"
# Memory leases (issue 16): a second pgbouncer with 3 server connections
# handed out round robin, so a client's consecutive transactions land on
# different server connections.
PGBOUNCER_POOL_SIZE=3 pgbouncer_start rr pool "server_round_robin = 1"
tap_ok $? "pgbouncer (round robin, 3 server connections) started on 127.0.0.1:$PGBOUNCER_PORT"
tap_checks /usr/bin/python3 tests/tap/lib/memory_pooler_workload.py \
    --bouncer "host=127.0.0.1 port=$PGBOUNCER_PORT user=postgres dbname=postgres" \
    --direct "host=$(cluster_dir pool)/socket port=${COORD_CLUSTER_PORT[pool]} user=postgres dbname=postgres"
tap_done
