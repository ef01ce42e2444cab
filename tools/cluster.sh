# Throwaway PostgreSQL clusters for tests, demos and benchmarks. Source it.
#
#   cluster_start NAME [postgresql.conf line ...]   starts NAME, exports PGHOST/PGPORT/PGUSER
#                                                   ($COORD_INITDB_OPTS: extra initdb options)
#   cluster_psql NAME [psql args ...]               psql into NAME's database "postgres"
#   cluster_stop NAME [fast|immediate]              stops NAME (cluster_start again restarts it)
#   cluster_remove_all                              stops and deletes every cluster started here
#
# initdb and postgres refuse to run as root, so as root the clusters run as
# the unprivileged "postgres" account. They listen only on a Unix socket in
# a private folder, so no port is shared with anything else. Every cluster
# is removed when the sourcing shell exits, also when a test fails.

PG_BIN=${PG_BIN:-$("$(dirname "${BASH_SOURCE[0]}")/pg_prefix")$(pg_config --bindir)}
COORD_TMP_ROOT=${COORD_TMP_ROOT:-$(mktemp -d /tmp/pg_coord.XXXXXX)}
chmod 755 "$COORD_TMP_ROOT"
declare -gA COORD_CLUSTER_PORT=()

run_as_cluster_user() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

cluster_dir() { echo "$COORD_TMP_ROOT/cluster-$1"; }

cluster_env() {
    export PGHOST="$(cluster_dir "$1")/socket" PGPORT="${COORD_CLUSTER_PORT[$1]}" PGUSER=postgres
    export PGDATABASE=postgres
}

cluster_start() {
    local name=$1; shift
    local dir; dir=$(cluster_dir "$name")
    if [ ! -d "$dir/data" ]; then
        mkdir -p "$dir/socket"
        [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
        COORD_CLUSTER_PORT[$name]=$((20000 + RANDOM % 30000))
        run_as_cluster_user "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync \
            ${COORD_INITDB_OPTS:-} \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
        {
            echo "listen_addresses = ''"
            echo "unix_socket_directories = '$dir/socket'"
            echo "port = ${COORD_CLUSTER_PORT[$name]}"
            echo "shared_preload_libraries = 'pg_coord'"
            echo "max_prepared_transactions = 10"
            for line in "$@"; do echo "$line"; done
        } >>"$dir/data/postgresql.conf"
    fi
    run_as_cluster_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        >/dev/null || { tail -n 30 "$dir/server.log"; return 1; }
    cluster_env "$name"
}

cluster_stop() {
    local dir; dir=$(cluster_dir "$1")
    run_as_cluster_user "$PG_BIN/pg_ctl" -D "$dir/data" -m "${2:-fast}" -w stop >/dev/null
}

cluster_psql() {
    local name=$1; shift
    ( cluster_env "$name"; "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -q "$@" )
}

cluster_remove_all() {
    local dir
    for dir in "$COORD_TMP_ROOT"/cluster-*; do
        [ -f "$dir/data/postmaster.pid" ] &&
            run_as_cluster_user "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
    done
    rm -rf "$COORD_TMP_ROOT"
}

trap cluster_remove_all EXIT
trap 'exit 130' INT TERM
