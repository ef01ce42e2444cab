# Fencing tokens across a failover to an ASYNCHRONOUS standby that lagged:
# the standby stops receiving WAL, the primary goes on granting leases and
# task claims (committed, rolled back, and one still open when it dies),
# then the primary crashes and the standby is promoted. Its copy of the
# token allocator is behind the primary's, yet every token it hands out is
# larger than every token the old primary ever returned, because the
# promotion started a new epoch (README, "How tokens are allocated").
# Then a dump of the promoted server (timeline 2) restored into a new
# cluster (timeline 1): its tokens continue above the dumped ones.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('token_primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_coord');
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('token_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
is($primary->safe_psql('postgres',
        "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'async'"),
    '1', 'the standby replicates asynchronously');

my @names = map { "promo:$_" } 1 .. 5;
my @returned;    # every token the old primary returned to a client

# One round of grants on $node: acquire + release per name, and claims of
# new tasks; returns the tokens. One psql script per round (psql -f -: each
# statement its own transaction, as with one psql per call).
sub grant_round {
    my ($node, $round) = @_;
    my $sql = '';
    for my $name (@names) {
        $sql .= "SELECT coord.acquire('$name', 'w$round') AS t \\gset\n"
          . "SELECT coord.release('$name', :t) AS released \\gset\n"
          . "\\echo :t\n";
    }
    $sql .= "SELECT coord.queue_create('promo') AS created \\gset\n"
      . "SELECT coord.enqueue('promo', '{}') AS task \\gset\n"
      . "SELECT token FROM coord.claim('promo', 'w$round');\n";
    my @tokens = split /\n/, $node->safe_psql('postgres', $sql);
    die "round $round: expected 6 tokens, got @tokens" unless @tokens == 6 && !grep { !/^\d+$/ } @tokens;
    return @tokens;
}

# Replicated grants: the standby has these.
push @returned, grant_round($primary, $_) for 1 .. 3;
$primary->wait_for_catchup($standby);

# The standby stops receiving WAL; the primary goes on granting.
$standby->safe_psql('postgres', "ALTER SYSTEM SET primary_conninfo = ''");
$standby->reload;
ok($standby->poll_query_until('postgres', 'SELECT count(*) = 0 FROM pg_stat_wal_receiver'),
    'the standby no longer receives WAL');
push @returned, grant_round($primary, $_) for 4 .. 40;
# A grant whose transaction rolls back, and one still open when the primary dies.
push @returned, $primary->safe_psql('postgres',
    "BEGIN; SELECT coord.acquire('promo:1', 'rolled-back'); ROLLBACK;");
my $open = $primary->background_psql('postgres');
$open->query_safe('BEGIN');
my $open_token = $open->query_safe("SELECT coord.acquire('promo:2', 'never-committed')");
chomp $open_token;
push @returned, $open_token;
my ($max_returned) = sort { $b <=> $a } @returned;
my $primary_counter = $primary->safe_psql('postgres', 'SELECT last_value FROM coord.token_allocator');

# The primary crashes; the lagging standby is promoted.
$primary->stop('immediate');
$open->{run}->kill_kill;
my $standby_counter = $standby->safe_psql('postgres', 'SELECT last_value FROM coord.token_allocator');
cmp_ok($standby_counter, '<', $primary_counter - 100,
    "the standby's copy of the allocator lagged ($standby_counter, the primary's was $primary_counter)");
$standby->promote;
is($standby->safe_psql('postgres',
        "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"), '2',
    'the promoted standby is on timeline 2');

# Everything the promoted server hands out is larger than anything the old
# primary returned: the same names, new names, the same queue.
my @after;
push @after, grant_round($standby, $_) for 41 .. 60;
for my $name (map { "promo:new:$_" } 1 .. 5) {
    push @after, $standby->safe_psql('postgres', "SELECT coord.acquire('$name', 'new')");
}
my ($min_after) = sort { $a <=> $b } @after;
cmp_ok($min_after, '>', $max_returned,
    'every token after the promotion is larger than every token the old primary returned');
# The epoch is what keeps them apart: the promoted server's counter values
# overlap those the old primary had already used.
my $counter_mask = (1 << 47) - 1;
ok((grep { ($_ & $counter_mask) <= $primary_counter } @after) > 0,
    'the promoted server reused counter values of the old primary (in a new epoch)');
my %seen;
$seen{$_}++ for @returned, @after;
is(scalar(grep { $seen{$_} > 1 } keys %seen), 0, 'no token value was handed out twice');
is($standby->safe_psql('postgres', "SELECT count(*) FROM coord.lease_state WHERE owner = 'never-committed'"),
    '0', 'the never-committed grant is gone');
is($standby->safe_psql('postgres', "SELECT (coord.acquire('promo:2', 'x') >> 47) - ($open_token >> 47)"),
    '1', 'the new tokens are one epoch above the old ones');

# A dump of the promoted server restored into a new cluster (timeline 1):
# the epoch record comes along, so tokens continue above the dumped ones.
my $dump = $standby->basedir . '/coord.sql';
$standby->command_ok(['pg_dump', '-d', $standby->connstr('postgres'), '-f', $dump], 'pg_dump');
my $largest_dumped = $standby->safe_psql('postgres',
    'SELECT greatest((SELECT max(token) FROM coord.lease_state), (SELECT max(token) FROM coord.tasks))');
my $restored = PostgreSQL::Test::Cluster->new('token_restored');
$restored->init;
$restored->start;
$restored->command_ok(['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $restored->connstr('postgres'),
        '-f', $dump], 'restore into a new cluster');
my $restored_token = $restored->safe_psql('postgres', "SELECT coord.acquire('promo:3', 'restored')");
my $restored_new = $restored->safe_psql('postgres', "SELECT coord.acquire('promo:fresh', 'restored')");
cmp_ok($restored_token, '>', $largest_dumped, 'after a restore the same name gets a larger token');
cmp_ok($restored_new, '>', $largest_dumped, 'and every new token is above the dumped ones');
is($restored->safe_psql('postgres', "SELECT $restored_new >> 47"), '3',
    'the restored cluster (timeline 1) continues in epoch 3, above the dump\'s epoch 2');

$restored->stop;
$standby->stop;
done_testing();
