# Shared by the benchmark scripts: a durable throwaway cluster and pgbench.
# Source it after cd'ing to the repository root.
source tools/cluster.sh
BENCH_SECONDS=${BENCH_SECONDS:-10}
PGBENCH="$PG_BIN/pgbench"

# Starts a durable cluster (fsync and synchronous_commit on) named $1.
bench_cluster_start() {
    local name=$1; shift
    cluster_start "$name" "fsync = on" "synchronous_commit = on" "max_connections = 200" \
        "shared_buffers = '256MB'" "$@"
}

# bench_tps SCRIPT CLIENTS [pgbench args...]: prints the run's TPS.
bench_tps() {
    local script=$1 clients=$2; shift 2
    "$PGBENCH" -n -M prepared -c "$clients" -j "$clients" -T "$BENCH_SECONDS" -f "$script" "$@" \
        2>&1 | awk '/^tps = / {print $3; exit}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
