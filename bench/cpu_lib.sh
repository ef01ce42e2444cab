# Shared by the backend-CPU scripts (bench/*/cpu): a cluster where a commit's
# WAL flush costs no wait (it is not CPU and would only lengthen the run), the
# backend's own CPU clock, and the report. Source it after cd'ing to the
# repository root. A script defines its workloads as plpgsql procedures that
# insert (kind, phase, ticks) rows into cpu_ticks_used, running the kinds in
# alternating batches in one backend, so that load from elsewhere on the
# machine (which inflates CPU time too: caches, hyperthreads) is shared fairly.
source tools/cluster.sh

# cpu_cluster_start NAME: starts the cluster and creates pg_coord, amcheck,
# cpu_ticks() (user+system ticks of this backend, /proc/self/stat) and the
# table of measurements.
cpu_cluster_start() {
    cluster_start "$1" "fsync = off" "synchronous_commit = off" "shared_buffers = '256MB'"
    cluster_psql "$1" <<'SQL' >/dev/null
CREATE EXTENSION pg_coord;
CREATE EXTENSION amcheck;
CREATE FUNCTION cpu_ticks() RETURNS bigint LANGUAGE sql AS $$
    SELECT split_part(s, ' ', 14)::bigint + split_part(s, ' ', 15)::bigint
    FROM pg_read_file('/proc/self/stat') s $$;
CREATE TABLE cpu_ticks_used (kind text, phase text, ticks bigint);
SQL
}

# cpu_report NAME CALLS: backend CPU per call in microseconds, per kind and
# phase, in the order the kinds were first measured.
cpu_report() {
    cluster_psql "$1" -v hz="$(getconf CLK_TCK)" -v calls="$2" <<'SQL'
SELECT kind, phase, round(sum(ticks) * 1e6 / :hz / :calls, 1) AS cpu_us_per_call
FROM cpu_ticks_used GROUP BY kind, phase ORDER BY min(ctid);
SQL
}
