# Throwaway PostgreSQL clusters for tests, demos and benchmarks. Source it.
#
#   cluster_start NAME [postgresql.conf line ...]   starts NAME, exports PGHOST/PGPORT/PGUSER
#                                                   ($COORD_INITDB_OPTS: extra initdb options;
#                                                   COORD_LISTEN_TCP=1: also on 127.0.0.1:PORT)
#   cluster_psql NAME [psql args ...]               psql into NAME's database "postgres"
#   cluster_stop NAME [fast|immediate]              stops NAME (cluster_start again restarts it)
#   cluster_standby NAME PRIMARY sync|async [conf]  a streaming standby of PRIMARY (pg_basebackup);
#                                                   sync: PRIMARY's synchronous_standby_names = NAME
#   cluster_postmaster_pid NAME                     the postmaster's pid
#   cluster_walreceiver_pid NAME / cluster_walsender_pid NAME
#   pgbouncer_start NAME CLUSTER [ini line ...]     Debian's pgbouncer, transaction mode, in
#                                                   front of CLUSTER on 127.0.0.1:$PGBOUNCER_PORT
#   etcd_start                                      one local etcd, 127.0.0.1:$ETCD_PORT
#   patroni_start NODE SYNC_MODE                    a Patroni node (ha/patroni.yml) of the one
#                                                   scope; SYNC_MODE true|false; needs etcd_start
#   patroni_leader / patroni_dsn / patroni_node_port NODE / patroni_pid NODE
#   coord_free_port                                 a free loopback port, reserved until teardown
#                                                   (also against other shells running tests)
#   cluster_remove_all                              stops every service and cluster started here
#                                                   (also stopped ones), deletes them and checks
#                                                   with ps that no process of them is left
#
# Every service (pgbouncer, etcd, patroni) runs in its own process group
# (setsid; started again, e.g. a Patroni after a test killed it, it appends
# to its log), so the teardown kills whole groups, SIGCONT first (a test may
# have SIGSTOPped them); postmasters are stopped with pg_ctl. Every process started here has its working folder or its command
# line under $COORD_TMP_ROOT: that is how the final check finds leftovers.
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
        COORD_CLUSTER_PORT[$name]=$(coord_free_port)
        run_as_cluster_user "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust --no-sync \
            ${COORD_INITDB_OPTS:-} \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
        {
            if [ -n "${COORD_LISTEN_TCP:-}" ]; then
                echo "listen_addresses = '127.0.0.1'"
            else
                echo "listen_addresses = ''"
            fi
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

# A loopback port nothing listens on and that no other shell using this file
# has handed out: tests run side by side (tools/test runs several at once), so
# a port is reserved (mkdir is atomic) under $COORD_PORT_DIR until this shell
# removes its clusters; a reservation whose shell is gone is taken over.
COORD_PORTS_GIVEN=" "
COORD_PORT_DIR=${COORD_PORT_DIR:-/tmp/pg_coord-ports}
mkdir -p "$COORD_PORT_DIR" 2>/dev/null && chmod 1777 "$COORD_PORT_DIR" 2>/dev/null
coord_free_port() {
    local p owner
    while :; do
        p=$((20000 + RANDOM % 30000))
        [[ "$COORD_PORTS_GIVEN" == *" $p "* ]] && continue
        if ! mkdir "$COORD_PORT_DIR/$p" 2>/dev/null; then
            owner=$(cat "$COORD_PORT_DIR/$p/shell" 2>/dev/null)
            [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null && continue
            [ -z "$owner" ] && continue   # being reserved right now
            echo $$ >"$COORD_PORT_DIR/$p/shell"   # its shell is gone
        else
            echo $$ >"$COORD_PORT_DIR/$p/shell"
        fi
        ss -Htan "( sport = :$p )" 2>/dev/null | grep -q . && continue
        COORD_PORTS_GIVEN+="$p "
        echo "$p"; return 0
    done
}
# (coord_free_port runs in $(...) subshells, whose $$ is this shell's.)
coord_release_ports() {
    local f
    for f in "$COORD_PORT_DIR"/*/shell; do
        [ "$(cat "$f" 2>/dev/null)" = "$$" ] && rm -rf "$(dirname "$f")"
    done
    return 0
}

# Runs a service in the background in a process group of its own, as the
# cluster user, working in (and logging to) its folder; remembers the group.
# $1 name, $2 folder, the rest: the command.
coord_spawn() {
    local name=$1 dir=$2; shift 2
    mkdir -p "$COORD_TMP_ROOT/pgroups"; rm -f "$COORD_TMP_ROOT/pgroups/$name"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    local as=()
    [ "$(id -u)" -eq 0 ] && as=(setpriv --reuid=postgres --regid=postgres --init-groups --)
    ( cd "$dir" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' \
          "$COORD_TMP_ROOT/pgroups/$name" "${as[@]}" "$@" >>"$dir/$name.log" 2>&1 </dev/null ) &
    local i
    for i in $(seq 50); do [ -s "$COORD_TMP_ROOT/pgroups/$name" ] && return 0; sleep 0.1; done
    echo "coord_spawn: $name did not start" >&2; return 1
}
coord_spawn_pid() { cat "$COORD_TMP_ROOT/pgroups/$1"; }

cluster_postmaster_pid() { head -n 1 "$(cluster_dir "$1")/data/postmaster.pid"; }
# The pid of a postmaster's child by its backend_type in ps (e.g. "walreceiver").
postmaster_child_pid() {
    ps -o pid=,args= --ppid "$1" | awk -v t="$2" '$0 ~ "postgres: .*" t {print $1; exit}'
}
cluster_walreceiver_pid() { postmaster_child_pid "$(cluster_postmaster_pid "$1")" walreceiver; }
cluster_walsender_pid() { postmaster_child_pid "$(cluster_postmaster_pid "$1")" walsender; }

cluster_standby() {
    local name=$1 primary=$2 mode=$3; shift 3
    local dir pdir; dir=$(cluster_dir "$name"); pdir=$(cluster_dir "$primary")
    mkdir -p "$dir/socket"; [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
    COORD_CLUSTER_PORT[$name]=$(coord_free_port)
    run_as_cluster_user "$PG_BIN/pg_basebackup" -h "$pdir/socket" -p "${COORD_CLUSTER_PORT[$primary]}" \
        -U postgres -D "$dir/data" -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
        { cat "$dir/basebackup.log"; return 1; }
    run_as_cluster_user touch "$dir/data/standby.signal"
    {
        echo "unix_socket_directories = '$dir/socket'"
        echo "port = ${COORD_CLUSTER_PORT[$name]}"
        echo "primary_conninfo = 'host=$pdir/socket port=${COORD_CLUSTER_PORT[$primary]} user=postgres application_name=$name'"
        echo "hot_standby = on"
        for line in "$@"; do echo "$line"; done
    } | run_as_cluster_user tee -a "$dir/data/postgresql.conf" >/dev/null
    run_as_cluster_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        >/dev/null || { tail -n 30 "$dir/server.log"; return 1; }
    if [ "$mode" = sync ]; then
        cluster_psql "$primary" -c "ALTER SYSTEM SET synchronous_standby_names = '$name'" \
            -c "SELECT pg_reload_conf()" >/dev/null
    fi
    local want=async; [ "$mode" = sync ] && want=sync
    local i
    for i in $(seq 300); do
        [ "$(cluster_psql "$primary" -Atc "SELECT sync_state FROM pg_stat_replication
                 WHERE application_name = '$name' AND state = 'streaming'")" = "$want" ] && return 0
        sleep 0.1
    done
    echo "cluster_standby: $name is not streaming ($want) from $primary" >&2; return 1
}

# pgbouncer (Debian's) in transaction mode in front of CLUSTER's socket.
pgbouncer_start() {
    local name=$1 cluster=$2; shift 2
    local dir="$COORD_TMP_ROOT/pgbouncer-$name"; mkdir -p "$dir"
    PGBOUNCER_PORT=$(coord_free_port)
    echo '"postgres" ""' >"$dir/userlist.txt"
    {
        echo "[databases]"
        echo "postgres = host=$(cluster_dir "$cluster")/socket port=${COORD_CLUSTER_PORT[$cluster]} dbname=postgres user=postgres"
        echo "[pgbouncer]"
        echo "listen_addr = 127.0.0.1"
        echo "listen_port = $PGBOUNCER_PORT"
        echo "unix_socket_dir ="
        echo "auth_type = trust"
        echo "auth_file = $dir/userlist.txt"
        echo "pool_mode = transaction"
        echo "max_client_conn = 500"
        echo "default_pool_size = ${PGBOUNCER_POOL_SIZE:-4}"
        echo "ignore_startup_parameters = extra_float_digits"
        echo "admin_users = postgres"
        for line in "$@"; do echo "$line"; done
    } >"$dir/pgbouncer.ini"
    [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
    coord_spawn "pgbouncer-$name" "$dir" /usr/sbin/pgbouncer "$dir/pgbouncer.ini" || return 1
    local i
    for i in $(seq 100); do
        "$PG_BIN/psql" -X -Atq "host=127.0.0.1 port=$PGBOUNCER_PORT user=postgres dbname=postgres" \
            -c "SELECT 1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "pgbouncer_start: pgbouncer did not answer" >&2; cat "$dir/pgbouncer-$name.log" >&2; return 1
}

# One local etcd (Debian's etcd-server), for Patroni.
etcd_start() {
    local dir="$COORD_TMP_ROOT/etcd"; mkdir -p "$dir"
    ETCD_PORT=$(coord_free_port); local peer; peer=$(coord_free_port)
    coord_spawn etcd "$dir" /usr/bin/etcd --name coord-etcd --data-dir "$dir/data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "coord-etcd=http://127.0.0.1:$peer" --initial-cluster-state new || return 1
    local i
    for i in $(seq 100); do
        curl -fs "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' && return 0
        sleep 0.1
    done
    echo "etcd_start: etcd is not healthy" >&2; tail -n 20 "$dir/etcd.log" >&2; return 1
}

# A Patroni node; ha/patroni.yml is the configuration, rendered per node.
declare -gA PATRONI_PG_PORT=() PATRONI_API_PORT=()
PATRONI_SCOPE=pg_coord_test
COORD_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
patroni_start() {
    local node=$1 sync_mode=$2
    local dir="$COORD_TMP_ROOT/patroni-$node"
    if [ ! -f "$dir/patroni.yml" ]; then
        mkdir -p "$dir"; chmod 700 "$dir"
        PATRONI_PG_PORT[$node]=$(coord_free_port); PATRONI_API_PORT[$node]=$(coord_free_port)
        sed -e "s|@SCOPE@|$PATRONI_SCOPE|g" -e "s|@NAME@|$node|g" -e "s|@DIR@|$dir|g" \
            -e "s|@PG_PORT@|${PATRONI_PG_PORT[$node]}|g" -e "s|@API_PORT@|${PATRONI_API_PORT[$node]}|g" \
            -e "s|@ETCD@|127.0.0.1:$ETCD_PORT|g" -e "s|@PG_BIN@|$PG_BIN|g" \
            -e "s|@SYNC_MODE@|$sync_mode|g" "$COORD_REPO/ha/patroni.yml" >"$dir/patroni.yml"
        [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
    fi
    coord_spawn "patroni-$node" "$dir" /usr/bin/patroni "$dir/patroni.yml"
}
patroni_pid() { coord_spawn_pid "patroni-$1"; }
patroni_node_port() { echo "${PATRONI_PG_PORT[$1]}"; }
patroni_node_dsn() { echo "host=127.0.0.1 port=${PATRONI_PG_PORT[$1]} user=postgres dbname=postgres connect_timeout=2"; }
patroni_postmaster_pid() { head -n 1 "$COORD_TMP_ROOT/patroni-$1/data/postmaster.pid" 2>/dev/null; }
# The libpq multi-host string clients use: whichever node is the primary.
patroni_dsn() {
    local hosts="" ports="" n
    for n in $(printf '%s\n' "${!PATRONI_PG_PORT[@]}" | sort); do
        hosts+="${hosts:+,}127.0.0.1"; ports+="${ports:+,}${PATRONI_PG_PORT[$n]}"
    done
    echo "host=$hosts port=$ports user=postgres dbname=postgres target_session_attrs=read-write connect_timeout=2"
}
# The node Patroni's REST API names leader ("" while there is none).
patroni_leader() {
    local n
    for n in "${!PATRONI_API_PORT[@]}"; do
        if curl -fs -m 2 "http://127.0.0.1:${PATRONI_API_PORT[$n]}/leader" >/dev/null 2>&1; then
            echo "$n"; return 0
        fi
    done
    echo ""
}
# Waits until node $1 (or any node, with "") is the leader and accepts writes.
patroni_wait_leader() {
    local want=$1 secs=${2:-60} i n
    for i in $(seq $((secs * 5))); do
        n=$(patroni_leader)
        if [ -n "$n" ] && { [ -z "$want" ] || [ "$n" = "$want" ]; } &&
           [ "$("$PG_BIN/psql" -X -Atq "$(patroni_node_dsn "$n")" -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ]; then
            echo "$n"; return 0
        fi
        sleep 0.2
    done
    echo "patroni_wait_leader: no leader ${want:+($want) }after $secs s" >&2; return 1
}
# Waits until node $1 streams from the leader (sync_state sync or async as $2).
patroni_wait_replica() {
    local node=$1 want=$2 secs=${3:-90} i leader
    for i in $(seq $((secs * 5))); do
        leader=$(patroni_leader)
        if [ -n "$leader" ] && [ "$leader" != "$node" ] &&
           [ "$("$PG_BIN/psql" -X -Atq "$(patroni_node_dsn "$leader")" -c \
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$node' AND state = 'streaming'" \
                2>/dev/null)" = "$want" ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "patroni_wait_replica: $node is not a $want replica after $secs s" >&2; return 1
}

# Processes started here: those whose command line or working folder is
# under $COORD_TMP_ROOT, and every member of a recorded process group.
coord_leftover_pids() {
    local pid
    {
        find /proc -mindepth 2 -maxdepth 2 -name cwd -lname "$COORD_TMP_ROOT*" 2>/dev/null | cut -d/ -f3
        ps -eo pid=,args= | grep -F "$COORD_TMP_ROOT/" | awk '{print $1}'
    } | sort -un | while read -r pid; do
        [ "$pid" = "$$" ] && continue
        # not this shell's own subshells or commands (bash, ps, grep ...)
        case "$(ps -o comm= -p "$pid" 2>/dev/null)" in
            ""|bash|ps|grep|sort|find|cut|awk|tr|readlink|sleep|cat|timeout) continue ;;
        esac
        echo "$pid"
    done
}

cluster_remove_all() {
    local status=$? dir f pg pid i left
    set +e
    trap - EXIT INT TERM
    [ -d "$COORD_TMP_ROOT" ] || return 0
    # Services first (Patroni would restart its PostgreSQL), whole groups.
    for f in "$COORD_TMP_ROOT"/pgroups/*; do
        [ -f "$f" ] || continue
        pg=$(cat "$f"); kill -CONT -- "-$pg" 2>/dev/null; kill -TERM -- "-$pg" 2>/dev/null
    done
    for i in $(seq 50); do
        left=0
        for f in "$COORD_TMP_ROOT"/pgroups/*; do
            [ -f "$f" ] && kill -0 -- "-$(cat "$f")" 2>/dev/null && left=1
        done
        [ "$left" -eq 0 ] && break; sleep 0.1
    done
    for f in "$COORD_TMP_ROOT"/pgroups/*; do [ -f "$f" ] && kill -KILL -- "-$(cat "$f")" 2>/dev/null; done
    # Every postmaster (plain clusters, Patroni's): CONT, immediate stop, KILL the group.
    for dir in "$COORD_TMP_ROOT"/cluster-*/data "$COORD_TMP_ROOT"/patroni-*/data; do
        [ -f "$dir/postmaster.pid" ] || continue
        pid=$(head -n 1 "$dir/postmaster.pid")
        kill -CONT -- "-$pid" 2>/dev/null
        if [ "$(id -u)" -eq 0 ]; then
            timeout 20 runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1
        else
            timeout 20 "$PG_BIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1
        fi
        kill -KILL -- "-$pid" 2>/dev/null
    done
    # Whatever is left (a SIGSTOPped backend of a killed postmaster ...).
    for i in 1 2 3; do
        left=$(coord_leftover_pids)
        [ -z "$left" ] && break
        kill -CONT $left 2>/dev/null; kill -KILL $left 2>/dev/null; sleep 0.3
    done
    left=$(coord_leftover_pids)
    if [ -n "$left" ]; then
        echo "cluster_remove_all: processes left running:" >&2
        ps -o pid,pgid,args -p "$(echo $left | tr ' ' ,)" >&2
        status=1
    fi
    rm -rf "$COORD_TMP_ROOT"
    coord_release_ports
    return $status
}

trap 'cluster_remove_all; exit $?' EXIT
trap 'exit 130' INT TERM
