# 017_pg_upgrade.pl: a DBA moves a cluster that holds the extension to a new major with pg_upgrade.
#
# The old cluster runs the oldest major of the run (PG_UPGRADE_FROM_BINDIR, set by test/run.sh on
# its second pass, e.g. 15) with signicat preloaded: items followed to their end with history, items
# still open, a dropped item, synced processes. pg_upgrade moves it to the major under test (e.g.
# 18), both servers with signicat in shared_preload_libraries, as a DBA keeps them. Afterwards every
# row is there, the sequences go on, the extension's functions answer, and the worker follows the
# open items to their end again. During pg_upgrade no worker may run: _PG_init stops early under
# IsBinaryUpgrade (the log of the upgrade servers shows none).
#
# Without PG_UPGRADE_FROM_BINDIR (a run on one version only) there is nothing to upgrade from: the
# test is skipped, and says so.

use strict;
use warnings FATAL => 'all';

use Cwd qw(abs_path getcwd);
use File::Basename qw(dirname);
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use SignicatTest;
use Test::More;

my $old_bindir = $ENV{PG_UPGRADE_FROM_BINDIR} // '';
plan skip_all => 'no older major in this run (PG_UPGRADE_FROM_BINDIR is empty)' unless $old_bindir ne '';

start_mock();
mock('POST', '/__mock/config', { process_polls_until_final => 4 });

# ---- the old cluster -------------------------------------------------------------------------
my $old = PostgreSQL::Test::Cluster->new('old', install_path => dirname($old_bindir));
$old->init;
$old->append_conf('postgresql.conf', signicat_conf());
$old->start;
$old->safe_psql('postgres', 'CREATE EXTENSION signicat');
my $old_version = $old->safe_psql('postgres', 'SHOW server_version_num');

my ($d_done, $done) = seed_and_watch($old, 3, 'upgrade-done');
wait_query($old, 'three items are done on the old cluster', 60,
	q{SELECT count(*) = 3 FROM signicat.watch WHERE state = 'done'});
# items still open when the cluster goes down: the new cluster's worker must finish them
$old->safe_psql('postgres', 'SELECT signicat.stop_worker()');
my ($d_open, $open) = seed_and_watch($old, 2, 'upgrade-open');
$old->safe_psql('postgres', qq{SELECT signicat.watch_drop('assure_process', '$open->[1]')});
$old->safe_psql('postgres', q{SELECT signicat.sync_processes(now() - interval '1 day')});
$old->safe_psql('postgres', 'SELECT signicat.start_worker()');
$old->safe_psql('postgres', 'SELECT signicat.stop_worker()');

my ($contents, $rows) = (data_summary_sql(), data_rows_sql());
# the extension's members; the row types of its tables and views (and their arrays) are left out:
# pg_upgrade to 18 records them as members of their own, where CREATE EXTENSION leaves them to
# their relation (dropped with it either way)
my $objects = q{
	SELECT string_agg(o, E'\n' ORDER BY o COLLATE "C") FROM (
	SELECT pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS o
	FROM pg_catalog.pg_depend d
	WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
	  AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'signicat')
	  AND NOT (d.classid = 'pg_catalog.pg_type'::regclass AND EXISTS (
	      SELECT FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem
	      WHERE t.oid = d.objid AND (t.typrelid <> 0 OR e.typrelid <> 0)))) m};
# grants to the extension's roles (the owner's own, which gain MAINTAIN in 17, are left out)
my $grants = q{
	SELECT string_agg(g, E'\n' ORDER BY g COLLATE "C") FROM (
	SELECT format('%s %s %s', c.relname, a.grantee::regrole, a.privilege_type) AS g
	FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
	WHERE c.relnamespace = 'signicat'::regnamespace AND a.grantee <> c.relowner) x};
my $ext = q{SELECT extversion || ' ' || array_to_string(extconfig::regclass[], ',')
            FROM pg_catalog.pg_extension WHERE extname = 'signicat'};
my $before = $old->safe_psql('postgres', $contents);
my $before_rows = $old->safe_psql('postgres', $rows);
my $before_objects = $old->safe_psql('postgres', $objects);
my $before_ext = $old->safe_psql('postgres', $ext);
my $before_grants = $old->safe_psql('postgres', $grants);
note "before, on $old_version: $before";
$old->stop;

# ---- pg_upgrade to the new major -------------------------------------------------------------
my $new = PostgreSQL::Test::Cluster->new('new');
# 18's initdb turns data checksums on by default; pg_upgrade needs the old cluster's setting
my $old_checksums = $old_version >= 180000 ? [] : ['--no-data-checksums'];
$new->init(extra => ($new->pg_version >= 18 ? $old_checksums : []));
$new->append_conf('postgresql.conf', signicat_conf());
my $new_bindir = $new->config_data('--bindir');

# pg_upgrade writes files in the current directory: it runs in the new node's base directory, so
# every path it is given is absolute
my ($old_data, $new_data) = (abs_path($old->data_dir), abs_path($new->data_dir));
my $upgrade_log = abs_path($new->basedir) . '/pg_upgrade.out';
my $cwd = getcwd();
chdir $new->basedir or die "chdir: $!";
my $ok = PostgreSQL::Test::Utils::run_log(
	[ "$new_bindir/pg_upgrade", '--no-sync',
	  '-d', $old_data, '-D', $new_data,
	  '-b', $old_bindir, '-B', $new_bindir,
	  '-s', $new->host, '-p', $old->port, '-P', $new->port, '--copy', '--retain' ],
	'>', $upgrade_log, '2>&1');
chdir $cwd or die "chdir: $!";
ok($ok, 'pg_upgrade from ' . $old_version . ' to ' . $new->pg_version);
if (!$ok)
{
	diag(slurp_file($upgrade_log));
	diag($_ . ":\n" . slurp_file($_)) for glob($new->data_dir . '/pg_upgrade_output.d/*/log/*.log');
	done_testing();
	exit;
}

# ---- on the new major ------------------------------------------------------------------------
my $offset = 0;    # the new node's log starts with this start
$new->start;
my $in = sub { $new->safe_psql('postgres', $_[0]) };
is($in->($contents), $before, "every row came back ($before)");
is($in->($rows), $before_rows, 'row for row, the same items, history (with its times) and synced processes');
is($in->($objects), $before_objects, 'the extension owns the same objects');
is($in->($ext), $before_ext, 'the same extension version and configuration tables');
is($in->($grants), $before_grants, "the same grants on the extension's tables, views and sequences");
is($in->(q{SELECT nextval('signicat.watch_id_seq') > (SELECT max(id) FROM signicat.watch)
          AND nextval('signicat.status_history_id_seq') > (SELECT max(id) FROM signicat.status_history)}),
	't', 'the sequences go on after the upgraded ids');

# the extension's functions work on the new major: a call to Signicat and a read of its answer
my $dossier = $in->(q{SELECT signicat.assure_create_dossier('after-upgrade') ->> 'dossierId'});
like($dossier, qr/^[0-9a-f-]{36}$/, 'assure_create_dossier answers on the new major');
is($in->(qq{SELECT signicat.assure_get_dossier('$dossier') ->> 'externalReference'}), 'after-upgrade',
	'assure_get_dossier reads it back');

# the worker follows the open item to its end, once per change
$in->('SELECT signicat.start_worker()');
followed_on($in, $open, 'upgraded');

# pg_upgrade's own servers (-b) loaded signicat but ran no worker: their log has none of the lines
# that the launcher and the worker write, which the new server's own log shows they do write
my $ran = qr/signicat (worker started|launcher: )/;
like(log_after($new, $offset), $ran, 'the new server logs its launcher and worker');
my @server_logs = glob($new->data_dir . '/pg_upgrade_output.d/*/log/pg_upgrade_server.log');
ok(@server_logs, "pg_upgrade kept its servers' log (--retain)");
my $upgrade_servers = join('', map { slurp_file($_) } @server_logs);
like($upgrade_servers, qr/database system is ready/, "that log is the upgrade servers' log");
unlike($upgrade_servers, $ran, 'no signicat worker or launcher ran on the servers pg_upgrade started');
check_no_crash($new, $offset);

$in->('SELECT signicat.stop_worker()');
done_testing();
