# The background worker on a streaming standby: it idles while the server
# is in recovery (it never tries to write), and after promotion it starts
# sweeping without a restart: it requeues a claim that expired while the
# server was still a standby. Then, on the promoted server: SIGHUP reloads
# its settings, a failing sweep step and a failing whole sweep are rolled
# back and logged while the loop goes on, SIGTERM ends it (the postmaster
# starts it again), and a changed coord.database moves it to a database
# without the extension, where it idles.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_coord'
coord.sweep_interval = '100ms'
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_coord');
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# A worker claims a task on the primary, then the primary goes away before
# the claim expires.
$primary->safe_psql('postgres', "SELECT coord.queue_create('jobs')");
my $id = $primary->safe_psql('postgres', "SELECT coord.enqueue('jobs', '{\"n\": 1}')");
my $token = $primary->safe_psql('postgres',
    "SELECT token FROM coord.claim('jobs', 'doomed-worker', ttl => '5 seconds')");
like($token, qr/^\d+$/, 'the task was claimed on the primary');
$primary->wait_for_catchup($standby);
$primary->stop('immediate');

is($standby->safe_psql('postgres', "SELECT state FROM coord.tasks WHERE id = $id"),
    'processing', 'the claim is replicated to the standby');

my $sweeper_pid_query =
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_coord sweeper'";
ok($standby->poll_query_until('postgres', "SELECT count(*) = 1 FROM ($sweeper_pid_query) s"),
    'the background worker runs on the standby');
my $pid_before = $standby->safe_psql('postgres', $sweeper_pid_query);

# The claim expires while the server is still a standby: nothing happens.
ok($standby->poll_query_until('postgres',
        "SELECT lease_expires_at < clock_timestamp() FROM coord.tasks WHERE id = $id"),
    'the claim has expired on the standby');
is($standby->safe_psql('postgres', "SELECT state FROM coord.tasks WHERE id = $id"),
    'processing', 'the expired claim is left alone while in recovery');
my $log = slurp_file($standby->logfile);
like($log, qr/pg_coord sweeper: server is in recovery \(standby\): idle until promotion/,
    'the worker logged that it idles in recovery');
unlike($log, qr/pg_coord sweeper: sweep failed/, 'the worker never tried to sweep in recovery');

# Promotion: the same worker process starts sweeping and requeues the claim.
$standby->promote;
ok($standby->poll_query_until('postgres',
        "SELECT state = 'pending' FROM coord.tasks WHERE id = $id"),
    'after promotion the expired claim was requeued');
is($standby->safe_psql('postgres', $sweeper_pid_query), $pid_before,
    'by the same background worker process (no restart)');
is($standby->safe_psql('postgres',
        "SELECT a ->> 'outcome' || ' ' || (a ->> 'worker') FROM coord.task($id) t, "
          . "jsonb_array_elements(t.attempt_history) a"),
    'expired doomed-worker', 'the expired attempt is in the history');
$log = slurp_file($standby->logfile);
like($log, qr/pg_coord sweeper: sweeping database "postgres"/, 'the worker logged that it started sweeping');
like($log, qr/pg_coord sweeper: \{[^\n]*"tasks_requeued": 1/, 'the worker logged the requeue');

# The promoted server's queue works: the task is claimed again with a new token.
$standby->safe_psql('postgres', "UPDATE coord.tasks SET run_at = clock_timestamp() WHERE id = $id");
cmp_ok($standby->safe_psql('postgres', "SELECT token FROM coord.claim('jobs', 'new-worker')"),
    '>', $token, 'the task is claimed again with a larger token');

# SIGHUP: the worker reloads its settings.
$standby->safe_psql('postgres', "ALTER SYSTEM SET coord.sweep_interval = '150ms'");
$standby->reload;
ok($standby->wait_for_log(qr/pg_coord sweeper: configuration reloaded, sweep interval 150 ms/),
    'after SIGHUP the worker reloaded coord.sweep_interval');

# A failing sweep step is rolled back and logged; the other steps and the
# following sweeps go on. (The task step fails while its table is renamed.)
$standby->safe_psql('postgres', "ALTER TABLE coord.tasks_complete RENAME TO tasks_complete_away");
ok($standby->wait_for_log(qr/pg_coord sweep step "tasks" failed and was rolled back/),
    'a failing step is logged');
# new-worker's claim runs out meanwhile; once the table is back, the next
# sweep requeues it.
$standby->safe_psql('postgres',
    "UPDATE coord.tasks SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE id = $id");
$standby->safe_psql('postgres', "ALTER TABLE coord.tasks_complete_away RENAME TO tasks_complete");
ok($standby->poll_query_until('postgres',
        "SELECT state = 'pending' FROM coord.tasks WHERE id = $id"),
    'after the failures the worker still requeues expired claims');
is($standby->safe_psql('postgres',
        "SELECT string_agg(a ->> 'outcome' || ' ' || (a ->> 'worker'), ', ') FROM coord.task($id) t, "
          . "jsonb_array_elements(t.attempt_history) a"),
    'expired doomed-worker, expired new-worker', 'both expired attempts are in the history');

# SIGTERM ends the worker promptly; the postmaster restarts it (bgw_restart_time).
$standby->safe_psql('postgres', "SELECT pg_terminate_backend($pid_before)");
ok($standby->poll_query_until('postgres',
        "SELECT count(*) = 1 FROM ($sweeper_pid_query) s WHERE pid <> $pid_before"),
    'after SIGTERM the worker exited and was started again');

# A whole sweep that fails (here: a superuser holds pg_extension locked
# longer than the worker's lock_timeout, so the worker cannot even look up
# the extension) is rolled back and logged, and the loop goes on. (No other
# role can do this; tests/scenarios/sweeper_not_stalled shows what they can
# do instead.)
my $holder = $standby->background_psql('postgres');
$holder->query_safe("BEGIN");
$holder->query_safe("LOCK TABLE pg_catalog.pg_extension IN ACCESS EXCLUSIVE MODE");
ok($standby->wait_for_log(
        qr/pg_coord sweeper: sweep failed and was rolled back: canceling statement due to lock timeout/),
    'a failed sweep is logged');
$holder->query_safe("ROLLBACK");
$holder->quit;
$standby->safe_psql('postgres', "UPDATE coord.tasks SET run_at = clock_timestamp() WHERE id = $id");
$standby->safe_psql('postgres',
    "SELECT count(*) FROM coord.claim('jobs', 'third-doomed-worker', ttl => '1 millisecond')");
ok($standby->poll_query_until('postgres',
        "SELECT state = 'pending' AND attempts = 3 FROM coord.tasks WHERE id = $id"),
    'after the failed sweeps the worker sweeps again');

# coord.database changed on reload: the worker restarts there; without the
# extension in that database it idles and says so.
$standby->safe_psql('postgres', "CREATE DATABASE other");
$standby->safe_psql('postgres', "ALTER SYSTEM SET coord.database = 'other'");
$standby->reload;
ok($standby->wait_for_log(qr/pg_coord sweeper: coord.database changed from "postgres" to "other": restarting/),
    'a changed coord.database restarts the worker');
ok($standby->wait_for_log(
        qr/pg_coord sweeper: extension pg_coord is not installed in database "other": idle, checking every sweep/),
    'in a database without the extension the worker idles');
ok($standby->poll_query_until('postgres',
        "SELECT datname = 'other' FROM pg_stat_activity WHERE backend_type = 'pg_coord sweeper'"),
    'the worker is connected to the new database');

$standby->stop;
done_testing();
