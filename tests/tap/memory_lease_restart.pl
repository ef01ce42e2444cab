# Memory leases (durable => false) end with the server: 1000 memory
# holdings, an immediate shutdown (a crash: no checkpoint, shared memory
# gone), a restart: none of them survives, and every token issued afterwards,
# memory or durable, of the same names or new ones, is larger than every
# token issued before. The same across a promotion of a standby.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('mem_primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'pg_coord'
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION pg_coord');
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('mem_standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# 1000 memory holdings and a few durable grants among them; returns the
# largest token handed out.
sub take_holdings {
    my ($node, $owner, $prefix) = @_;
    my $max = $node->safe_psql('postgres', qq{
        SELECT max(t) FROM (
            SELECT coord.acquire('$prefix:' || i, '$owner', '1 hour', durable => false) AS t
            FROM generate_series(1, 1000) i
            UNION ALL
            SELECT coord.acquire('$prefix:dur:' || i, '$owner', '1 hour') FROM generate_series(1, 3) i) s});
    is($node->safe_psql('postgres', "SELECT count(*) FROM coord.leases WHERE NOT durable AND owner = '$owner'"),
        '1000', "1000 memory holdings of $owner");
    return $max;
}

# ---- restart after a crash --------------------------------------------------
my $max_before = take_holdings($primary, 'before-crash', 'mem');
$primary->stop('immediate');
$primary->start;
is($primary->safe_psql('postgres', 'SELECT count(*) FROM coord.leases WHERE NOT durable'), '0',
    'after an immediate shutdown and restart no memory holding survives');
is($primary->safe_psql('postgres', "SELECT count(*) FROM coord.leases WHERE durable"), '3',
    'the durable holdings do');
my $min_after = $primary->safe_psql('postgres', q{
    SELECT min(t) FROM (
        SELECT coord.acquire('mem:' || i, 'after-crash', '1 hour', durable => false) AS t
        FROM generate_series(1, 1000) i
        UNION ALL
        SELECT coord.acquire('mem:new:' || i, 'after-crash', '1 hour', durable => false)
        FROM generate_series(1, 100) i
        UNION ALL
        SELECT coord.acquire('dur:new:' || i, 'after-crash', '1 hour') FROM generate_series(1, 3) i) s});
cmp_ok($min_after, '>', $max_before,
    'every token after the restart is larger than every token before it');
is($primary->safe_psql('postgres',
        "SELECT count(*) FROM coord.leases WHERE NOT durable AND owner = 'after-crash'"), '1100',
    'the names were free again');

# A clean restart ends them too.
my $max_clean = $primary->safe_psql('postgres', 'SELECT max(token) FROM coord.leases');
$primary->restart;
is($primary->safe_psql('postgres', 'SELECT count(*) FROM coord.leases WHERE NOT durable'), '0',
    'after a clean restart no memory holding survives');
cmp_ok($primary->safe_psql('postgres', "SELECT coord.acquire('mem:1', 'after-restart', durable => false)"),
    '>', $max_clean, 'and the next token is larger than every earlier one');

# ---- promotion of a standby ---------------------------------------------------
my $max_primary = take_holdings($primary, 'before-promotion', 'promo');
$max_primary = $primary->safe_psql('postgres',
    "SELECT greatest($max_primary, (SELECT max(token) FROM coord.leases))");
$primary->wait_for_catchup($standby);
$primary->stop('immediate');
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT count(*) FROM coord.leases WHERE NOT durable'), '0',
    'the promoted standby has no memory holding of the old primary');
my $min_promoted = $standby->safe_psql('postgres', q{
    SELECT min(t) FROM (
        SELECT coord.acquire('promo:' || i, 'promoted', '1 hour', durable => false) AS t
        FROM generate_series(1, 1000) i
        UNION ALL
        SELECT coord.acquire('promo:new:' || i, 'promoted', '1 hour') FROM generate_series(1, 3) i) s});
cmp_ok($min_promoted, '>', $max_primary,
    'every token after the promotion is larger than every token of the old primary');

$standby->stop;
done_testing();
